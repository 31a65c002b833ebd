# cctv-agent container image: runs the daemon by default.
#
# Discovery is multicast on the site's own network (WS-Discovery, SSDP, mDNS, SADP, DHIP) and the
# MAC addresses come from the host's neighbour table, so the container must share the host's
# network namespace; on Docker's default bridge it would only ever see the bridge:
#   docker run -d --network host -v cctv-state:/data -v /etc/cctv-agent:/etc/cctv-agent:ro \
#     -e CCTV_PUSH_TOKEN cctv-agent        (the configuration is yours: mount it at /etc/cctv-agent/daemon.yaml)
# No capabilities are needed (unprivileged UDP/TCP sockets; `ip neigh` reads need none); without
# CAP_NET_ADMIN the scans leave their neighbour entries to the kernel instead of deleting them.
#
# The build steps are the commands CI runs (scripts/test-all.sh): `npm ci --no-audit --no-fund`,
# which builds dist/ through the package's `prepare` script. tests/unit/dockerfile.test.ts checks
# that they stay the same, and lints this file. `npm run sbom` then writes the agent's own CycloneDX
# SBOM (runtime dependencies only) to dist/sbom.cdx.json, shipped in the image as
# /app/dist/sbom.cdx.json; it runs before the prune because npm sbom needs the whole tree.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY agent ./agent
COPY fingerprints ./fingerprints
COPY schema ./schema
COPY scripts/sbom.mjs ./scripts/sbom.mjs
COPY scripts/check-knowledge.mjs ./scripts/check-knowledge.mjs
RUN npm ci --no-audit --no-fund && npm run sbom && npm prune --omit=dev

FROM node:20-slim
# iproute2: the neighbour table (`ip -json neigh`), where the MAC of each device comes from.
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/fingerprints ./fingerprints
COPY --from=build /app/schema ./schema
RUN mkdir -p /data && chown node:node /data
# The image's unprivileged user (uid 1000); the state folder is the only place it writes.
USER node
VOLUME ["/data"]
ENV NODE_ENV=production
ENTRYPOINT ["node", "/app/dist/agent/cli.js"]
CMD ["daemon", "--config", "/etc/cctv-agent/daemon.yaml", "--state", "/data"]
