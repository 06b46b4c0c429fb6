// Starts the real server for the browser suite:
// 1. a fresh temporary data directory (KEYWARDEN_DATA_DIR);
// 2. the account "Acme" with its admin, a developer, a member and a developer who will turn on
//    2FA, all through the operator CLI (`keywarden admin …`, passwords on standard input);
// 3. `keywarden serve` on a free loopback port, waiting for /readyz, with a configuration file
//    that allows webhooks to private targets (the webhook spec's receiver is on 127.0.0.1) and
//    trusts a GitHub secret scanning public key made here (the leak spec signs reports with its
//    private half).
// The specs read the address and the users from the KW_* environment variables set here.
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, mkdirSync, openSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { USERS } from './specs/users.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

function cli(bin, env, args, stdin) {
  const run = spawnSync(bin, args, { env, input: stdin, encoding: 'utf8' });
  if (run.status !== 0) {
    throw new Error(`keywarden ${args.join(' ')} failed (${run.status}):\n${run.stderr}`);
  }
  return JSON.parse(run.stdout);
}

async function waitReady(url, server, deadline) {
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`keywarden serve exited with ${server.exitCode}; see test-results/server.log`);
    try {
      const answer = await fetch(url);
      if (answer.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`keywarden serve did not become ready at ${url}`);
}

export default async function globalSetup() {
  const bin = resolve(repo, process.env.KEYWARDEN_TEST_BIN || join('target', 'debug', 'keywarden'));
  if (!existsSync(bin)) {
    throw new Error(`No keywarden binary at ${bin}: run \`cargo build\` first or set KEYWARDEN_TEST_BIN.`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'keywarden-browser-'));
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const env = {
    ...process.env,
    KEYWARDEN_DATA_DIR: dataDir,
    KEYWARDEN_LISTEN: listen,
    KEYWARDEN_LOG_LEVEL: process.env.KEYWARDEN_LOG_LEVEL || 'info',
  };
  delete env.KEYWARDEN_DATABASE_URL;
  delete env.KEYWARDEN_SECRET;
  delete env.KEYWARDEN_CONFIG;

  const { admin, developer, member, secops } = USERS;
  const account = cli(bin, env, ['admin', 'create-account', '--name', 'Acme', '--email', admin.email, '--password-stdin'], admin.password);
  for (const user of [developer, member, secops]) {
    cli(bin, env, ['admin', 'add-user', '--account', account.account_id, '--email', user.email, '--role', user.role, '--password-stdin'], user.password);
  }

  const results = join(here, 'test-results');
  mkdirSync(results, { recursive: true });
  const log = openSync(join(results, 'server.log'), 'w');
  const config = join(dataDir, 'keywarden.toml');
  // GitHub's side of the secret scanning partner program: a P-256 key pair, the public half
  // published in GitHub's shape.
  const github = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const githubKeyId = 'browser-suite-key';
  const githubKeys = join(dataDir, 'github-public-keys.json');
  writeFileSync(githubKeys, JSON.stringify({
    public_keys: [{
      key_identifier: githubKeyId,
      key: github.publicKey.export({ type: 'spki', format: 'pem' }),
      is_current: true,
    }],
  }));
  writeFileSync(config, `[webhooks]\nallow_private_targets = true\n\n[leaks]\ngithub_public_keys_file = ${JSON.stringify(githubKeys)}\n`);
  const server = spawn(bin, ['serve', '--listen', listen, '--config', config], { env, stdio: ['ignore', log, log] });
  const baseURL = `http://${listen}`;
  await waitReady(`${baseURL}/readyz`, server, Date.now() + 30_000);

  process.env.KW_BASE_URL = baseURL;
  process.env.KW_ACCOUNT_ID = account.account_id;
  process.env.KW_INITIAL_TEST_KEY = account.keys.test;
  process.env.KW_INITIAL_LIVE_KEY = account.keys.live;
  process.env.KW_GITHUB_KEY_ID = githubKeyId;
  process.env.KW_GITHUB_PRIVATE_KEY = github.privateKey.export({ type: 'pkcs8', format: 'pem' });

  return async () => {
    server.kill('SIGTERM');
    await new Promise((r) => {
      if (server.exitCode !== null) r();
      else {
        const timer = setTimeout(() => { server.kill('SIGKILL'); r(); }, 5000);
        server.on('exit', () => { clearTimeout(timer); r(); });
      }
    });
    rmSync(dataDir, { recursive: true, force: true });
  };
}
