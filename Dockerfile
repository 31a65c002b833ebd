# cctv-agent container image. Discovery uses multicast on the site's own network, so run it with
# the host's network: `docker run --rm --network host -v cctv-data:/data cctv-agent scan --store /data`.
# The build steps are the same commands CI runs (npm ci builds dist/ through the prepare script).

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY agent ./agent
COPY fingerprints ./fingerprints
COPY schema ./schema
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-slim
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/fingerprints ./fingerprints
COPY --from=build /app/schema ./schema
USER node
VOLUME ["/data"]
ENTRYPOINT ["node", "/app/dist/agent/cli.js"]
CMD ["scan", "--store", "/data"]
