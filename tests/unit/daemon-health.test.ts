import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { isAuthorised, METRICS_CONTENT_TYPE, startHealthServer, type HealthServer } from '../../agent/daemon/health.js';
import { createLogger } from '../../agent/log.js';
import { parsePrometheusText } from './prometheus-text.js';

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server!.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

const METRICS = '# HELP up Whether the daemon runs.\n# TYPE up gauge\nup 1\n';

async function start(token?: string): Promise<void> {
  server = await startHealthServer({
    host: '127.0.0.1',
    port: 0,
    ...(token === undefined ? {} : { token }),
    healthz: () => ({ status: 'ok', sites: [] }),
    metrics: () => METRICS,
    log: createLogger('silent'),
  });
}

describe('health endpoint', () => {
  it('serves /healthz as JSON and /metrics as Prometheus text 0.0.4 on loopback without a token', async () => {
    await start();
    const health = await get('/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok', sites: [] });
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toBe(METRICS_CONTENT_TYPE);
    expect(parsePrometheusText(metrics.body).get('up')?.samples[0]?.value).toBe(1);
    expect((await get('/other')).status).toBe(404);
    expect((await get('/metrics', {}, 'POST')).status).toBe(405);
  });

  it('with a token, answers 401 to a request without it or with a wrong one, and 200 with it', async () => {
    await start('correct-horse');
    const none = await get('/metrics');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="cctv-agent"');
    expect(none.body).not.toContain('up 1');
    expect((await get('/healthz', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await get('/healthz', { authorization: 'Basic Y29ycmVjdC1ob3JzZQ==' })).status).toBe(401);
    const ok = await get('/metrics', { authorization: 'Bearer correct-horse' });
    expect(ok.status).toBe(200);
    expect(ok.body).toBe(METRICS);
  });

  it('fails with CCTV_ERR_HEALTH_UNAVAILABLE when the port is taken', async () => {
    await start();
    await expect(
      startHealthServer({ host: '127.0.0.1', port: server!.port, healthz: () => ({}), metrics: () => '', log: createLogger('silent') }),
    ).rejects.toMatchObject({ code: 'CCTV_ERR_HEALTH_UNAVAILABLE', exitCode: 2 });
  });

  it('isAuthorised compares the whole bearer token', () => {
    expect(isAuthorised(undefined, undefined)).toBe(true);
    expect(isAuthorised(undefined, 't')).toBe(false);
    expect(isAuthorised('Bearer t', 't')).toBe(true);
    expect(isAuthorised('Bearer tt', 't')).toBe(false);
    expect(isAuthorised('Bearer t ', 't')).toBe(false);
    expect(isAuthorised('bearer t', 't')).toBe(false);
  });
});
