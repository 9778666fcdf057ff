// `ten token create|list|revoke`: API tokens (docs/access.md). Admin tokens only; the token a
// create makes is printed once, and only then.
import { Command, Option } from 'clipanion';
import { tenErr } from '../../core/errors.ts';
import type { TokenView } from '../../core/tokens-api.ts';
import { validateName } from '../instance-ref.ts';
import { formatLocalTime, formatTable } from '../table.ts';
import { ApiCommand } from './base.ts';

const UNIT_S = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
/** The most the API takes (core/tokens-api.ts MAX_EXPIRES_IN): 10 years. */
const MAX_SECONDS = 10 * 365 * 86_400;

/** --expires: `30d`, `12h`, `90m`, `3600s`, or bare seconds; a whole number from 1 s to 10 years. */
export function parseExpires(raw: string): number {
  const m = /^(\d{1,10})(s|m|h|d)?$/.exec(raw);
  const s = m ? Number(m[1]) * UNIT_S[(m[2] ?? 's') as keyof typeof UNIT_S] : NaN;
  if (!(s >= 1 && s <= MAX_SECONDS)) {
    throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid --expires ${JSON.stringify(raw)}: expected a whole duration from 1s to 3650d such as 30d, 12h, 90m or 3600s (a bare number is seconds)`);
  }
  return s;
}

const COLUMNS = [
  { header: 'ID', min: 12 }, { header: 'SCOPE', min: 8 }, { header: 'CREATED', min: 19 },
  { header: 'EXPIRES', min: 19 }, { header: 'LAST USED', min: 19 }, { header: 'DESCRIPTION', min: 0 },
];

/** The `ten token list` table: SCOPE is `admin` or `tenant:NAME`; an expired token says so. */
export function formatTokens(tokens: readonly TokenView[]): string {
  return formatTable(COLUMNS, tokens.map((t) => [
    t.id, t.tenant === null ? 'admin' : `tenant:${t.tenant}`, formatLocalTime(t.created_at),
    t.expires_at === null ? 'never' : `${formatLocalTime(t.expires_at)}${t.expired ? ' (expired)' : ''}`,
    t.last_used_at === null ? 'never' : formatLocalTime(t.last_used_at), t.description.replace(/\s+/g, ' '),
  ]));
}

export class TokenCreateCommand extends ApiCommand {
  static paths = [['token', 'create']];
  static usage = Command.Usage({
    category: 'Access',
    description: 'Make an API token (printed once)',
    details: `
      Without \`--tenant\` the token is an admin token: it reaches everything, like \`{data_dir}/api_token\`. With \`--tenant NAME\` it reaches only the instances whose id is NAME, in any service (spawn, stop, restart, weight, health, their logs and metrics), and nothing else (docs/access.md).

      The token is printed once, on stdout, and never again: only its hash is kept. \`--json\` prints \`{"token", "id", "tenant", ...}\`. Needs an admin token.
    `,
    examples: [
      ['A token for the tenant alice, valid 30 days', '$0 token create --tenant alice --expires 30d --description "alice CI"'],
      ['Another admin token', '$0 token create --description "deploy bot"'],
    ],
  });

  tenant = Option.String('--tenant', { description: 'Limit the token to the instances whose id is NAME (default: an admin token)' });
  description = Option.String('--description', { description: 'What the token is for (shown by ten token list)' });
  expires = Option.String('--expires', { description: 'Lifetime: 30d, 12h, 90m, 3600s (default: never expires)' });
  json = Option.Boolean('--json', false, { description: 'Print the answer as JSON' });

  async perform(): Promise<void> {
    if (this.tenant !== undefined) validateName('instance id', this.tenant); // a tenant is an instance id
    const expires = this.expires === undefined ? undefined : parseExpires(this.expires);
    const body = { ...(this.tenant === undefined ? {} : { tenant: this.tenant }), ...(this.description === undefined ? {} : { description: this.description }), ...(expires === undefined ? {} : { expires_in: expires }) };
    const t = await this.client.request<TokenView & { token: string }>('POST', '/api/tokens', body);
    if (this.json) return this.outJson(t);
    this.out(t.token);
    const scope = t.tenant === null ? 'admin' : `tenant ${t.tenant}`;
    this.context.stderr.write(`token ${t.id} (${scope}${t.expires_at === null ? '' : `, expires ${formatLocalTime(t.expires_at)}`}): shown once, keep it now\n`);
  }
}

export class TokenListCommand extends ApiCommand {
  static paths = [['token', 'list']];
  static usage = Command.Usage({
    category: 'Access',
    description: 'List the API tokens (never their secrets)',
    details: `
      One row per token: ID (\`admin\` is \`{data_dir}/api_token\`), SCOPE (\`admin\` or \`tenant:NAME\`), CREATED, EXPIRES (\`never\`, or when; \`(expired)\` once refused), LAST USED (to the minute) and DESCRIPTION. \`--json\` prints the API's answer, \`{"tokens": [...]}\`. Needs an admin token.
    `,
    examples: [['All tokens', '$0 token list']],
  });

  json = Option.Boolean('--json', false, { description: 'Print {"tokens": [...]} as the API returned it' });

  async perform(): Promise<void> {
    const res = await this.client.request<{ tokens: TokenView[] }>('GET', '/api/tokens');
    if (this.json) this.outJson(res);
    else this.context.stdout.write(formatTokens(res.tokens));
  }
}

export class TokenRevokeCommand extends ApiCommand {
  static paths = [['token', 'revoke']];
  static usage = Command.Usage({
    category: 'Access',
    description: 'Revoke an API token: it is refused from now on',
    details: `
      ID is the one \`ten token list\` shows. The token fails with 401 from the next request on. The file token (\`admin\`) is replaced by deleting \`{data_dir}/api_token\` and restarting \`ten serve\` instead. Needs an admin token.
    `,
    examples: [['Revoke a token', '$0 token revoke 3f9a2c1b7d4e']],
  });

  id = Option.String({ name: 'id' });
  json = Option.Boolean('--json', false, { description: 'Print the revoked token as JSON' });

  async perform(): Promise<void> {
    if (!/^(?:[0-9a-f]{12}|admin)$/.test(this.id)) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `invalid token id ${JSON.stringify(this.id)}: expected the 12 hex digits ten token list shows`);
    const t = await this.client.request<TokenView>('DELETE', `/api/tokens/${this.id}`);
    if (this.json) this.outJson(t);
    else this.out(`token ${t.id} revoked`);
  }
}
