// DEV ONLY
import { api, removeInstall, request, startNapbox, tenantHost } from './test/helpers/napbox-process.js';
import { DockerDriver } from './src/runtime/docker-driver.js';
const nb = await startNapbox({ env: { NAPBOX_LOG_LEVEL: 'info' } });
const driver = new DockerDriver();
try {
  await api(nb, 'POST', '/api/tenants', { slug: 'pg' });
  await api(nb, 'POST', '/api/tenants', { slug: 'ap', app: { command: ['node', '-e', "require('http').createServer((q,s)=>s.end('ok')).listen(process.env.PORT)"] } });
  for (const slug of ['pg', 'ap', 'pg', 'ap']) {
    await api(nb, 'POST', `/api/tenants/${slug}/stop`);
    await new Promise((r) => setTimeout(r, 300));
    const from = nb.output().length;
    const t0 = Date.now();
    const res = await request(nb.port, { host: tenantHost(nb, slug) });
    const t1 = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    const [c] = await driver.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': slug });
    const logs = await driver.logs(c!.id, { tail: 5 });
    console.log(slug, res.status, 't0', t0, 'total', t1 - t0);
    console.log(nb.output().slice(from).split('\n').filter((l) => l.includes('tenant ready')).join('\n'));
    console.log(logs.split('\n').filter((l) => l.includes('runner ready')).slice(-1).join('\n'));
  }
} finally {
  await nb.stop();
  await removeInstall(nb.installId);
}
