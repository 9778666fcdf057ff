import { writeFileSync } from 'node:fs';
import { Command, Option } from 'clipanion';
import { TenementError, tenErr } from '../../core/errors.ts';
import { VERSION } from '../../core/version.ts';
import type { OperationView, ShadowView } from '../../plugins/deploy-workflows/view.ts';
import { ApiError } from '../client.ts';
import { DEFAULT_IMAGE_TEMPLATE, imageFor } from '../export/image.ts';
import type { ExportOptions, LiveState } from '../export/kubernetes.ts';
import { RFC1123_LABEL, RFC1123_SUBDOMAIN } from '../export/names.ts';
import { ApiCommand } from './base.ts';

export class ExportKubernetesCommand extends ApiCommand {
  static paths = [['export', 'kubernetes'], ['export', 'k8s']];
  static usage = Command.Usage({
    category: 'Moving on',
    description: 'Write the config and live state as Kubernetes manifests',
    details: `
      Reads tenement.toml (\`--config\`, as \`ten config\` does) for each service's command, env, health path and limits, and the running \`ten serve\` for its instances, weights, active shadows and running rollouts. Writes, per instance, a Deployment (replicas 1, or 0 for an instance asleep in tenement) and a Service (labels \`tenement.dev/service\`, \`tenement.dev/instance\`); per service, Gateway API HTTPRoutes: \`{id}.{service}.{domain}\` to each instance, and \`{service}.{domain}\` whose backendRefs weights are the weights \`ten ps\` shows, with deploy-workflows' header and cookie targeting as header matches and a shadow as a RequestMirror filter.

      Every object is checked against its Kubernetes or Gateway API schema before anything is written (\`TEN_ERR_EXPORT_INVALID\` otherwise). Env vars that look like secrets are never written: the pods read them from a Secret you create. What has no Kubernetes counterpart (scale to zero, sandbox isolation, sticky sessions, plugins...) is printed as a warning on stderr and written as a comment at the top of the YAML. docs/scaling-out.md explains the mapping and how to move without downtime.

      \`--json\` writes one v1 List instead of YAML documents.
    `,
    examples: [
      ['Print the manifests', '$0 export kubernetes'],
      ['Into a file, for a namespace and a registry', '$0 export kubernetes --namespace shop --image-template registry.example.com/{service}:{id} --output shop.yaml'],
      ['As a JSON List', '$0 export kubernetes --json'],
    ],
  });

  namespace = Option.String('--namespace', { description: 'metadata.namespace of every object (default: none, kubectl\'s current namespace)' });
  imageTemplate = Option.String('--image-template', DEFAULT_IMAGE_TEMPLATE, { description: `Container image; {service} and {id} are filled in (default: ${DEFAULT_IMAGE_TEMPLATE})` });
  gateway = Option.String('--gateway', 'tenement', { description: 'Name of the Gateway the HTTPRoutes attach to (default: tenement)' });
  gatewayNamespace = Option.String('--gateway-namespace', { description: 'Namespace of that Gateway (default: the routes\' own)' });
  domain = Option.String('--domain', { description: 'Domain of the hostnames (default: [settings] domain)' });
  containerPort = Option.String('--container-port', '8080', { description: 'Port the app listens on in its pod, given as $PORT (default: 8080)' });
  output = Option.String('--output,-o', '-', { description: 'File to write, or - for stdout (default: -)' });
  json = Option.Boolean('--json', false, { description: 'Write a v1 List as JSON instead of YAML documents' });

  async perform(): Promise<void> {
    const port = Number(this.containerPort);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw tenErr('TEN_ERR_CLI_INVALID_ARGUMENT', `--container-port ${JSON.stringify(this.containerPort)}: must be a whole number from 1 to 65535`);
    for (const [flag, value] of [['--namespace', this.namespace], ['--gateway-namespace', this.gatewayNamespace]] as const) {
      if (value !== undefined && !RFC1123_LABEL.test(value)) throw tenErr('TEN_ERR_EXPORT_UNSUPPORTED', `${flag} ${JSON.stringify(value)}`, 'a namespace is a DNS label (a-z, 0-9, -; at most 63 characters)');
    }
    if (!RFC1123_SUBDOMAIN.test(this.gateway)) throw tenErr('TEN_ERR_EXPORT_UNSUPPORTED', `--gateway ${JSON.stringify(this.gateway)}`, 'a Gateway name is a DNS subdomain (a-z, 0-9, - and .)');
    imageFor(this.imageTemplate, 'service', 'id'); // a bad template fails before the server is asked

    const [{ loadConfig }, { resolvePlugins }, { BUILTINS }, { exportKubernetes }, { validateManifest }, { toJsonList, toYaml }] = await Promise.all([
      import('../../core/config.ts'), import('../../core/loader.ts'), import('../../plugins/index.ts'),
      import('../export/kubernetes.ts'), import('../export/validate.ts'), import('../export/render.ts'),
    ]);
    const config = loadConfig({ path: this.config, cwd: process.cwd(), env: process.env });
    const plugins = await resolvePlugins(config, BUILTINS); // the plugins ten serve would load, options with defaults
    const domain = this.domain ?? config.settings.domain;
    if (!RFC1123_SUBDOMAIN.test(domain)) throw tenErr('TEN_ERR_EXPORT_UNSUPPORTED', `domain ${JSON.stringify(domain)}`, 'HTTPRoute hostnames are DNS names (not IP addresses): pass --domain');
    const workflows = plugins.find((p) => p.slot === 'workflows')?.def.name === 'deploy-workflows';
    const live = await this.liveState(workflows);

    const opts: ExportOptions = {
      namespace: this.namespace, imageTemplate: this.imageTemplate, domain, containerPort: port, servicePort: 80,
      gateway: { name: this.gateway, ...(this.gatewayNamespace === undefined ? {} : { namespace: this.gatewayNamespace }) },
    };
    const { objects, warnings } = exportKubernetes(config, plugins, live, opts);
    if (this.imageTemplate === DEFAULT_IMAGE_TEMPLATE) {
      warnings.unshift(`images are ${DEFAULT_IMAGE_TEMPLATE} (the default --image-template): build and push one per instance, or pass --image-template registry.example.com/{service}:{id}`);
    }
    objects.forEach(validateManifest); // before anything is written
    for (const w of warnings) this.context.stderr.write(`warning: ${w}\n`);

    const header = [
      `ten export kubernetes (tenement ${VERSION}) of ${config.path ?? 'the default config'} and ten serve at ${this.client.server}`,
      `apply with: kubectl apply -f FILE (the HTTPRoutes need the Gateway API CRDs, v1.0 or later, and a Gateway named ${this.gateway})`,
      ...(warnings.length === 0 ? [] : ['', 'not exported, or changed (docs/scaling-out.md):', ...warnings.map((w) => `- ${w}`)]),
    ];
    const text = this.json ? toJsonList(objects) : toYaml(objects, header);
    if (this.output === '-') {
      this.context.stdout.write(text);
      return;
    }
    try {
      writeFileSync(this.output, text);
    } catch (err) {
      throw new TenementError('TEN_ERR_EXPORT_WRITE_FAILED', [this.output, (err as NodeJS.ErrnoException).code ?? String(err)], {}, err);
    }
    const count = (kind: string) => objects.filter((o) => o.kind === kind).length;
    this.out(`wrote ${objects.length} objects to ${this.output}: ${count('Deployment')} Deployments, ${count('Service')} Services, ${count('HTTPRoute')} HTTPRoutes`);
  }

  /** The instances, and — when deploy-workflows is the workflows plugin — each service's active
   *  shadow and whether a rollout is running (a 404 TEN_ERR_WORKFLOW_NOT_FOUND: none). */
  private async liveState(workflows: boolean): Promise<LiveState> {
    const { instances } = await this.client.list();
    const services = [...new Set(instances.map((i) => i.service))];
    const shadows: ShadowView[] = [];
    const rollouts: string[] = [];
    const none = (err: unknown) => {
      if (err instanceof ApiError && err.code === 'TEN_ERR_WORKFLOW_NOT_FOUND') return undefined;
      throw err;
    };
    if (workflows) {
      for (const s of services) {
        const sh = await this.client.request<ShadowView>('GET', `/api/workflows/shadow/${s}`).catch(none);
        if (sh?.active) shadows.push(sh);
        const op = await this.client.request<OperationView>('GET', `/api/workflows/rollout/${s}`).catch(none);
        if (op?.status === 'running') rollouts.push(s);
      }
    }
    return { instances, shadows, rollouts };
  }
}
