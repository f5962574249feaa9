/**
 * isoservices on a real lab node: list, upload (SFTP), fetch (the node's curl from an HTTP server
 * this test runs on the lab host address), delete — each checked in the node's ISO directory;
 * limits, existing names, symlinks out of the directory, images in use, hostile input.
 * Objects: hostt-* files in the ISO directory, domain hostt-isouser; all removed after.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { expect } from 'chai';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { fetchCa } from '../helpers/https.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const DIR = '/var/lib/oms-node/isos';
const GUEST = 'hostt-isouser';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('isoservices on the lab', function () {
  this.timeout(120_000);
  let e: Env;
  let node: LabNode;
  let http: Server;
  let base: string;
  let S: (method: string, params: unknown[]) => Promise<any>;
  let ok: (method: string, params: unknown[]) => Promise<any>;
  const small = randomBytes(200 * 1024);
  const requests: string[] = [];

  const dirOnNode = async (all = false): Promise<string[]> => {
    const r = await nodeExec(node, ['find', `${DIR}/`, '-mindepth', '1', '-maxdepth', '1', '-printf', '%f\\n']);
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout.split('\n').filter((n) => n && (all || n.startsWith('hostt-') || n.startsWith('.oms-'))).sort();
  };
  const shaOnNode = async (name: string) => (await nodeExec(node, ['sha256sum', `${DIR}/${name}`])).stdout.split(' ')[0];

  const cleanup = async () => {
    await nodeExec(node, ['virsh', '-c', 'qemu:///system', 'undefine', GUEST]); // absent is fine: a sweep
    for (const n of await dirOnNode()) expect((await nodeExec(node, ['rm', '-f', '--', `${DIR}/${n}`])).code).to.equal(0);
  };

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: '20' });
    node = e.lab.nodes[0];
    await enroll(e, [node]);
    // qooxdoo POST: uploads do not fit a query string.
    S = async (m, params) => {
      const body = JSON.stringify({ service: 'isoservices', method: m, id: 1, params: [e.sid, 0, node.name, ...params] });
      return (await fetchCa(`${e.gw.url}/`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).json();
    };
    ok = async (m, params) => {
      const r = await S(m, params);
      if (r.error) throw new Error(`isoservices.${m} failed: ${JSON.stringify(r.error)}`);
      expect(r.result.result.client).to.equal(node.name);
      return r.result.result.result;
    };
    http = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/hostt-small.iso') {
        res.writeHead(200, { 'content-length': small.length });
        res.end(small);
      } else if (req.url === '/big-chunked') {
        // No length: only the byte count on the node can stop it.
        res.writeHead(200);
        let left = 48;
        const more = () => {
          while (left-- > 0) if (!res.write(randomBytes(64 * 1024))) return void res.once('drain', more);
          res.end();
        };
        more();
      } else if (req.url === '/big-length') {
        res.writeHead(200, { 'content-length': 3 * 1024 * 1024 });
        res.end(Buffer.alloc(3 * 1024 * 1024));
      } else if (req.url === '/redirect') {
        res.writeHead(302, { location: '/hostt-small.iso' });
        res.end('moved');
      } else {
        res.writeHead(404);
        res.end('no');
      }
    });
    await new Promise<void>((r) => http.listen(0, e.lab.hostAddress ?? '10.213.7.1', r));
    base = `http://${e.lab.hostAddress ?? '10.213.7.1'}:${(http.address() as { port: number }).port}`;
    await cleanup();
  });
  after(async () => {
    if (node) await cleanup();
    await new Promise((r) => http?.close(r));
    await e?.stop();
  });

  it('list_images lists the regular *.iso files of the node ISO directory', async () => {
    const r = await S('list_images', []);
    expect(r.error).to.equal(null);
    expect(r.result.type).to.equal('func');
    expect(r.result.result.client).to.equal(node.name);
    const onNode = (await dirOnNode(true)).filter((n) => n.toLowerCase().endsWith('.iso') && !n.startsWith('.'));
    expect(r.result.result.result).to.deep.equal(onNode);
    expect(r.result.result.result).to.include('lab.iso');
    const details = await ok('list_image_details', []);
    expect(details.map((d: any) => d.name)).to.deep.equal(onNode);
    const [size, mtime] = (await nodeExec(node, ['stat', '-c', '%s %Y', `${DIR}/lab.iso`])).stdout.trim().split(' ').map(Number);
    expect(details.find((d: any) => d.name === 'lab.iso')).to.deep.equal({ name: 'lab.iso', size, mtime });
  });

  it('upload_image writes over SFTP, atomically, never over an existing image', async () => {
    const data = randomBytes(300 * 1024);
    expect(await ok('upload_image', ['hostt-up.iso', data.toString('base64')])).to.deep.equal({ name: 'hostt-up.iso', size: data.length });
    expect(await shaOnNode('hostt-up.iso')).to.equal(sha(data));
    expect(await dirOnNode()).to.deep.equal(['hostt-up.iso']); // no temp file left
    expect(await ok('list_images', [])).to.include('hostt-up.iso');
    const again = await S('upload_image', ['hostt-up.iso', Buffer.from('other').toString('base64')]);
    expect(again.error).to.include({ code: 841 });
    expect(await shaOnNode('hostt-up.iso')).to.equal(sha(data));
    // Over the RPC limit, or not base64: refused before anything runs.
    expect((await S('upload_image', ['hostt-big.iso', randomBytes(720 * 1024).toString('base64')])).error?.code).to.be.oneOf([5, 12]);
    expect((await S('upload_image', ['hostt-bad.iso', 'not base64!'])).error?.code).to.equal(5);
    expect(await dirOnNode()).to.deep.equal(['hostt-up.iso']);
  });

  it('fetch_image: the node downloads, size-limited, no redirects, to a temp name then its name', async () => {
    expect(await ok('fetch_image', [`${base}/hostt-small.iso`, 'hostt-fetched.iso'])).to.deep.equal({ name: 'hostt-fetched.iso', size: small.length });
    expect(await shaOnNode('hostt-fetched.iso')).to.equal(sha(small));
    expect(requests).to.include('/hostt-small.iso');
    expect((await S('fetch_image', [`${base}/hostt-small.iso`, 'hostt-fetched.iso'])).error).to.include({ code: 841 });

    const missing = await S('fetch_image', [`${base}/missing`, 'hostt-missing.iso']);
    expect(missing.error.message).to.match(/^IsoFetchError: .*404/);
    const chunked = await S('fetch_image', [`${base}/big-chunked`, 'hostt-chunked.iso', 1024 * 1024]);
    expect(chunked.error.message).to.match(/^IsoImageTooLargeError: .*1048576/);
    const sized = await S('fetch_image', [`${base}/big-length`, 'hostt-sized.iso', 1024 * 1024]);
    expect(sized.error.message).to.match(/^IsoImageTooLargeError/);
    const redirect = await S('fetch_image', [`${base}/redirect`, 'hostt-redirect.iso']);
    expect(redirect.error.message).to.match(/^IsoFetchError: .*(redirect|47)/i);
    // Nothing of the refused fetches is left, not even a temp file.
    expect(await dirOnNode()).to.deep.equal(['hostt-fetched.iso', 'hostt-up.iso']);
  });

  it('delete_image removes only regular images inside the directory, not ones in use', async () => {
    expect(await ok('delete_image', ['hostt-up.iso'])).to.equal(0);
    expect(await dirOnNode()).to.deep.equal(['hostt-fetched.iso']);
    expect((await S('delete_image', ['hostt-up.iso'])).error).to.include({ code: 840 });

    // A symlink pointing out of the directory: never followed, never listed.
    const before = await canary(node);
    expect((await nodeExec(node, ['ln', '-s', '/var/lib/oms-node/canary/canary', `${DIR}/hostt-link.iso`])).code).to.equal(0);
    expect((await S('delete_image', ['hostt-link.iso'])).error).to.include({ code: 842 });
    expect(await ok('list_images', [])).to.not.include('hostt-link.iso');
    expect((await S('upload_image', ['hostt-link.iso', 'AAAA'])).error).to.include({ code: 841 });
    expect((await S('fetch_image', [`${base}/hostt-small.iso`, 'hostt-link.iso'])).error).to.include({ code: 841 });
    expect(await canary(node)).to.equal(before);

    const xml = `<domain type='kvm'><name>${GUEST}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
      <devices><disk type='file' device='cdrom'><source file='${DIR}/hostt-fetched.iso'/><target dev='hdc' bus='ide'/><readonly/></disk></devices></domain>`;
    const def = await nodeExec(node, ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], { input: xml });
    expect(def.code, def.stderr).to.equal(0);
    const inUse = await S('delete_image', ['hostt-fetched.iso']);
    expect(inUse.error).to.include({ code: 847 });
    expect(inUse.error.message).to.include(GUEST);
    expect((await nodeExec(node, ['virsh', '-c', 'qemu:///system', 'undefine', GUEST])).code).to.equal(0);
    expect(await ok('delete_image', ['hostt-fetched.iso'])).to.equal(0);
    expect(await dirOnNode()).to.deep.equal(['hostt-link.iso']);
  });

  it('hostile names and URLs are refused before anything runs', async () => {
    const before = await canary(node);
    const listing = await dirOnNode(true);
    const served = requests.length;
    const names = ['../canary/canary', '../canary/x.iso', '/etc/x.iso', 'x;id.iso', '$(id).iso', '`id`.iso', '-rf.iso', '.hidden.iso', 'a\nb.iso', 'lab.isо', 'x'.repeat(200) + '.iso', 'x.iso/', 'x y.iso', "x'.iso", 'lab', ''];
    for (const bad of names) {
      expect((await S('delete_image', [bad])).error?.code, JSON.stringify(bad)).to.equal(5);
      expect((await S('upload_image', [bad, 'AAAA'])).error?.code, JSON.stringify(bad)).to.equal(5);
      expect((await S('fetch_image', [`${base}/hostt-small.iso`, bad])).error?.code, JSON.stringify(bad)).to.equal(5);
    }
    const urls = ['file:///etc/passwd', `ftp://10.213.7.1/x.iso`, 'http://user:pw@10.213.7.1/x.iso', `${base}/x y`, `${base}/'$(id)'`, `${base}/\`id\``, '-o/etc/passwd', `${base}/x\n`, 'http://10.213.7.1:80/"x"', 'x'.repeat(3000)];
    for (const bad of urls) expect((await S('fetch_image', [bad, 'hostt-u.iso'])).error?.code, JSON.stringify(bad)).to.equal(5);
    expect((await S('fetch_image', [`${base}/hostt-small.iso`, 'hostt-u.iso', -1])).error?.code).to.equal(5);
    expect(requests.length).to.equal(served);
    expect(await canary(node)).to.equal(before);
    expect(await dirOnNode(true)).to.deep.equal(listing);
  });
});
