// validate.mjs - offline checks of Postern's deployment: the kustomizations
// in deploy/k8s, the Secrets make-secrets.sh writes, and deploy/Dockerfile.
//
//   node tests/deploy/validate.mjs        (tests/deploy/run.sh installs first)
//
// No cluster and no Docker engine are needed. Every object is validated
// against the Kubernetes OpenAPI schemas compiled into kubernetes-models;
// those schemas accept unknown fields, which the API server would drop
// silently (a misspelt "readOnlyRootFileSystem" is a pod running with a
// writable root), so unknown fields are flagged separately from the field
// lists in kubernetes-models' type declarations. Then Postern's own rules:
// the security settings on every workload, probes, budgets, autoscalers,
// network policy coverage, references between objects, and the Dockerfile.
//
// Output: "ok - …" / "not ok - …" per check, "ok - # SKIP …" when a tool
// is missing, and last "N passed, N failed"; exit 1 when anything failed.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { render, podTemplate } from './render.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const k8s = path.join(root, 'deploy/k8s');
const SERVICES = ['broker', 'keylookup', 'provision', 'mailstore', 'webui', 'reaper', 'gateway'];
const HPA_SERVICES = ['keylookup', 'provision', 'mailstore', 'webui', 'gateway'];
const HEALTH_PORT = { broker: 9100, keylookup: 9101, provision: 9102, mailstore: 9103, webui: 9104, reaper: 9105, gateway: 9106 };
// Who may open the gateway's ports: the organisation's MTA the milter, composers the API.
// What each service really connects to (besides DNS), by port: the egress
// its NetworkPolicies must allow, no more. 5555 the brokers; 6379 Redis and
// 26379 its Sentinels (lib/src/redis.c); 5432 PostgreSQL and 25/465/587 the
// SMTP relay (mailstore); 80/443/11371 WKD and keyservers (keylookup's
// discovery, services/keylookup/kl_fetch.c); 80/443 remote images
// (services/webui/web_proxy.c). Ports marked public must exclude private
// ranges: a sender's or a domain's URL must not reach the cluster's network.
// Sentinel's port is allowed where Redis is, not required (the standalone
// overlay runs one Redis without Sentinel); mailstore reaches PostgreSQL on
// 5432 or PgBouncer on 6432 (overlays/managed-ha).
const EGRESS = {
	broker: { ports: [] },
	keylookup: { ports: [5555, 6379, 80, 443, 11371], public: [80, 443, 11371] },
	provision: { ports: [5555, 6379] },
	mailstore: { ports: [5555, 5432, 25, 465, 587], or: { 5432: 6432 } },
	webui: { ports: [5555, 6379, 80, 443], public: [80, 443] },
	reaper: { ports: [5555, 6379] },
	gateway: { ports: [5555] },
};
const PRIVATE_V4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '127.0.0.0/8'];
const GATEWAY_PEERS = { 7025: { 'postern.io/role': 'mta' }, 8025: { 'postern.io/role': 'composer' } };
const NAMESPACE = 'postern';
const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'];

let passed = 0, failed = 0;
function check(name, problems) {
	const list = [].concat(problems || []).filter(Boolean);
	if (list.length === 0) {
		passed++;
		console.log(`ok - ${name}`);
	} else {
		failed++;
		console.log(`not ok - ${name}: ${list.slice(0, 8).join('; ')}${list.length > 8 ? ` (+${list.length - 8} more)` : ''}`);
	}
}
const skip = (name, why) => console.log(`ok - # SKIP ${name}: ${why}`);
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const id = (o) => `${o.kind}/${o.metadata?.name}`;

// ---------------------------------------------------------------------------
// Unknown-field detection from kubernetes-models' .d.ts files: interface name
// -> { field: {ref, array, map} }; aliases (IIoK8sApiCoreV1Container) map the
// names the declarations use for each other.
const types = new Map();
function indexTypes(dir) {
	for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
		const p = path.join(dir, entry.name);
		if (entry.isDirectory()) { if (entry.name !== 'node_modules' && !entry.name.startsWith('_')) indexTypes(p); continue; }
		if (!entry.name.endsWith('.d.ts')) continue;
		const text = fs.readFileSync(p, 'utf8');
		const local = new Map();
		const re = /^export interface (I\w+)[^{]*\{\n([\s\S]*?)^\}/gm;
		for (let m; (m = re.exec(text));) {
			const fields = {};
			for (const line of m[2].split('\n')) {
				const f = /^ {4}"([^"]+)"\??: (.*?);?$/.exec(line);
				if (!f) continue;
				const t = f[2];
				let a;
				if (t.endsWith('{')) fields[f[1]] = { map: true };
				else if ((a = /^Array<(IIoK8s\w+)>$/.exec(t))) fields[f[1]] = { ref: a[1], array: true };
				else if ((a = /^(IIoK8s\w+)$/.exec(t))) fields[f[1]] = { ref: a[1] };
				else fields[f[1]] = {};
			}
			local.set(m[1], fields);
			types.set(`${p}#${m[1]}`, fields);
		}
		const ex = /^export \{ (I\w+) as (IIoK8s\w+)/m.exec(text);
		if (ex && local.has(ex[1])) types.set(ex[2], local.get(ex[1]));
	}
}
function unknownFields(value, fields, at, out) {
	if (!fields || !value || typeof value !== 'object' || Array.isArray(value)) return;
	for (const [k, v] of Object.entries(value)) {
		const f = fields[k];
		if (!f) { out.push(`unknown field ${at}.${k}`); continue; }
		if (!f.ref || f.map) continue;
		const sub = types.get(f.ref);
		if (f.array && Array.isArray(v)) v.forEach((e, i) => unknownFields(e, sub, `${at}.${k}[${i}]`, out));
		else unknownFields(v, sub, `${at}.${k}`, out);
	}
}
const modelsDir = path.join(here, 'node_modules/kubernetes-models');
indexTypes(modelsDir);
indexTypes(path.join(here, 'node_modules/@kubernetes-models/apimachinery'));

async function schemaCheck(o) {
	const problems = [];
	if (!o || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') return ['no apiVersion/kind'];
	let mod;
	try { mod = await import(`kubernetes-models/${o.apiVersion}`); } catch { return [`no schema for ${o.apiVersion}`]; }
	const Model = mod[o.kind];
	if (!Model) return [`no schema for ${o.apiVersion} ${o.kind}`];
	try { new Model(o).validate(); } catch (e) { problems.push(String(e.message || e).replace(/\s+/g, ' ').slice(0, 400)); }
	const decl = types.get(path.join(modelsDir, o.apiVersion, `${o.kind}.d.ts`) + `#I${o.kind}`);
	if (!decl) return problems.concat(`no field list for ${o.kind}`);
	unknownFields(o, { apiVersion: {}, kind: {}, ...decl }, o.kind, problems);
	return problems;
}

const matches = (sel, labels = {}) => {
	if (!sel) return false;
	for (const [k, v] of Object.entries(sel.matchLabels || {})) if (labels[k] !== v) return false;
	for (const e of sel.matchExpressions || []) {
		const has = Object.hasOwn(labels, e.key);
		if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
		if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
		if (e.operator === 'Exists' && !has) return false;
		if (e.operator === 'DoesNotExist' && has) return false;
	}
	return true;
};
const emptySelector = (s) => !s || (Object.keys(s.matchLabels || {}).length === 0 && (s.matchExpressions || []).length === 0);

function securityProblems(o) {
	const t = podTemplate(o);
	if (!t?.spec) return ['no pod template'];
	const ps = t.spec, psc = ps.securityContext || {}, out = [];
	if (ps.hostNetwork || ps.hostPID || ps.hostIPC) out.push('host namespaces');
	if (ps.automountServiceAccountToken !== false) out.push('automountServiceAccountToken not false');
	for (const c of [...(ps.initContainers || []), ...(ps.containers || [])]) {
		const sc = c.securityContext || {}, n = c.name;
		const eff = (k) => (sc[k] !== undefined ? sc[k] : psc[k]);
		if (eff('runAsNonRoot') !== true) out.push(`${n}: runAsNonRoot`);
		const uid = eff('runAsUser');
		if (!Number.isInteger(uid) || uid === 0) out.push(`${n}: runAsUser must be a non-zero number`);
		if (sc.readOnlyRootFilesystem !== true) out.push(`${n}: readOnlyRootFilesystem`);
		if (sc.allowPrivilegeEscalation !== false) out.push(`${n}: allowPrivilegeEscalation`);
		if (sc.privileged) out.push(`${n}: privileged`);
		if (!(sc.capabilities?.drop || []).includes('ALL')) out.push(`${n}: capabilities.drop ALL`);
		if ((sc.capabilities?.add || []).length) out.push(`${n}: capabilities.add`);
		if ((sc.seccompProfile || psc.seccompProfile)?.type !== 'RuntimeDefault') out.push(`${n}: seccomp RuntimeDefault`);
		const r = c.resources || {};
		for (const k of ['cpu', 'memory']) {
			if (!r.requests?.[k]) out.push(`${n}: requests.${k}`);
			if (!r.limits?.[k]) out.push(`${n}: limits.${k}`);
		}
		if (!/:[\w.-]+$|@sha256:/.test(c.image || '') || /:latest$/.test(c.image)) out.push(`${n}: image ${c.image} needs a fixed tag`);
	}
	return out;
}

function probeProblems(o) {
	const t = podTemplate(o), out = [];
	for (const c of t.spec.containers) {
		const named = Object.fromEntries((c.ports || []).map((p) => [p.name, p.containerPort]));
		for (const [kind, want] of [['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']]) {
			const p = c[kind];
			if (!p) { out.push(`${c.name}: no ${kind}`); continue; }
			if (!p.httpGet) continue;       // exec/tcp probes (databases) are fine
			const port = typeof p.httpGet.port === 'string' ? named[p.httpGet.port] : p.httpGet.port;
			if (p.httpGet.path !== want) out.push(`${c.name}: ${kind} path ${p.httpGet.path}, want ${want}`);
			if (!port) out.push(`${c.name}: ${kind} port ${p.httpGet.port} is not a container port`);
			const svc = o.metadata.name.replace(/^postern-/, '');
			if (HEALTH_PORT[svc] && port !== HEALTH_PORT[svc]) out.push(`${c.name}: ${kind} on ${port}, health port is ${HEALTH_PORT[svc]}`);
		}
	}
	return out;
}

// Secret and ConfigMap names and keys the pods use.
function references(objs) {
	const refs = [];
	for (const o of objs.filter((x) => WORKLOAD_KINDS.includes(x.kind))) {
		const ps = podTemplate(o)?.spec || {};
		for (const v of ps.volumes || []) {
			if (v.secret) refs.push({ from: id(o), kind: 'Secret', name: v.secret.secretName, keys: (v.secret.items || []).map((i) => i.key), optional: v.secret.optional });
			if (v.configMap) refs.push({ from: id(o), kind: 'ConfigMap', name: v.configMap.name, keys: (v.configMap.items || []).map((i) => i.key), optional: v.configMap.optional });
		}
		for (const c of [...(ps.initContainers || []), ...(ps.containers || [])]) {
			for (const e of c.envFrom || []) {
				if (e.secretRef) refs.push({ from: id(o), kind: 'Secret', name: e.secretRef.name, keys: [], optional: e.secretRef.optional });
				if (e.configMapRef) refs.push({ from: id(o), kind: 'ConfigMap', name: e.configMapRef.name, keys: [], optional: e.configMapRef.optional });
			}
			for (const e of c.env || []) {
				const s = e.valueFrom?.secretKeyRef, m = e.valueFrom?.configMapKeyRef;
				if (s) refs.push({ from: id(o), kind: 'Secret', name: s.name, keys: [s.key], optional: s.optional });
				if (m) refs.push({ from: id(o), kind: 'ConfigMap', name: m.name, keys: [m.key], optional: m.optional });
			}
		}
	}
	return refs;
}

// ---------------------------------------------------------------------------
async function validateRender(label, dir, { isBase }) {
	let r;
	try { r = render(dir); } catch (e) { check(`${label}: renders`, String(e.stderr || e.message).trim().split('\n')[0]); return null; }
	if (r.how === 'raw files') skip(`${label}: kustomize rendering`, 'kubectl not found (nor kustomize); rendering the listed files with namespace, images and file patches only (no labels transformer)');
	const objs = r.objs.filter(Boolean);
	check(`${label}: renders with ${r.how} (${objs.length} objects)`, objs.length ? [] : ['no objects']);

	const schema = [];
	for (const o of objs) for (const p of await schemaCheck(o)) schema.push(`${id(o)}: ${p}`);
	check(`${label}: every object valid against the Kubernetes schemas, no unknown fields`, schema);

	const seen = new Set(), dups = [];
	for (const o of objs) { const k = `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`; if (seen.has(k)) dups.push(k); seen.add(k); }
	check(`${label}: no duplicate objects`, dups);
	if (r.how !== 'raw files')
		check(`${label}: every namespaced object is in namespace ${NAMESPACE}`,
			objs.filter((o) => o.kind !== 'Namespace' && o.metadata?.namespace !== NAMESPACE).map(id));

	const workloads = objs.filter((o) => WORKLOAD_KINDS.includes(o.kind));
	for (const w of workloads) check(`${label}: ${id(w)} security context, resources, fixed image tag`, securityProblems(w));

	// A secret volume names optional: podman 4.3's kube play crashes on a
	// missing one, and false says that a pod never starts without its keys.
	check(`${label}: every secret volume says optional: false`, workloads.flatMap((w) => (podTemplate(w).spec.volumes || [])
		.filter((v) => v.secret && v.secret.optional !== false).map((v) => `${id(w)} volume ${v.name}`)));
	const deps = objs.filter((o) => o.kind === 'Deployment');
	// Postern's own long-running workloads: the Deployments and the brokers.
	const own = [...deps, ...objs.filter((o) => o.kind === 'StatefulSet' && o.metadata.name === 'postern-broker')];
	const pdbs = objs.filter((o) => o.kind === 'PodDisruptionBudget');
	const nps = objs.filter((o) => o.kind === 'NetworkPolicy');
	const hpas = objs.filter((o) => o.kind === 'HorizontalPodAutoscaler');
	for (const d of own) {
		const labels = d.spec.template.metadata?.labels;
		check(`${label}: ${id(d)} has liveness /healthz and readiness /readyz on its health port`, probeProblems(d));
		check(`${label}: ${id(d)} has a PodDisruptionBudget`, pdbs.some((p) => matches(p.spec.selector, labels)) ? [] : ['none selects its pods']);
	}
	for (const w of workloads) {
		const labels = podTemplate(w).metadata?.labels;
		check(`${label}: ${id(w)} has its own NetworkPolicy`,
			nps.some((n) => !emptySelector(n.spec.podSelector) && matches(n.spec.podSelector, labels)) ? [] : ['only the namespace-wide policies select it']);
	}
	check(`${label}: a default-deny NetworkPolicy (all pods, Ingress and Egress, no rules)`,
		nps.some((n) => emptySelector(n.spec.podSelector) && ['Ingress', 'Egress'].every((t) => (n.spec.policyTypes || []).includes(t))
			&& !(n.spec.ingress || []).length && !(n.spec.egress || []).length) ? [] : ['missing']);

	// Policy selectors must select something: a typo would silently open or close nothing.
	const podLabels = workloads.map((w) => podTemplate(w).metadata?.labels || {});
	const dead = [];
	for (const n of nps) {
		if (!emptySelector(n.spec.podSelector) && !podLabels.some((l) => matches(n.spec.podSelector, l))) dead.push(`${id(n)} podSelector`);
		for (const rule of [...(n.spec.ingress || []).flatMap((x) => x.from || []), ...(n.spec.egress || []).flatMap((x) => x.to || [])])
			if (rule.podSelector && !rule.namespaceSelector && !emptySelector(rule.podSelector) && !podLabels.some((l) => matches(rule.podSelector, l)))
				dead.push(`${id(n)} peer ${JSON.stringify(rule.podSelector)}`);
	}
	check(`${label}: every NetworkPolicy selector matches a workload`, dead);

	// Egress per service: exactly the ports it connects to (the table EGRESS).
	for (const [name, need] of Object.entries(EGRESS)) {
		const w = workloads.find((x) => x.metadata.name === `postern-${name}`);
		if (!w) continue;
		const labels = podTemplate(w).metadata?.labels;
		const rules = nps.filter((n) => (n.spec.policyTypes || []).includes('Egress') && matches(n.spec.podSelector, labels))
			.flatMap((n) => n.spec.egress || []);
		const open = new Set(rules.flatMap((r) => (r.ports || []).map((p) => p.port)).filter((p) => p !== 53));
		const p = [];
		const alt = need.or || {};
		for (const port of need.ports) if (!open.has(port) && !open.has(alt[port])) p.push(`no egress to port ${port}`);
		const allowed = (port) => need.ports.includes(port) || Object.values(alt).includes(port)
			|| (port === 26379 && need.ports.includes(6379));
		for (const port of open) if (!allowed(port)) p.push(`egress to port ${port}, which it never connects to`);
		for (const port of need.public || []) {
			const to = rules.filter((r) => (r.ports || []).some((x) => x.port === port)).flatMap((r) => r.to || []);
			if (!to.length || to.some((t) => !t.ipBlock || (t.ipBlock.cidr === '0.0.0.0/0' && !PRIVATE_V4.every((c) => (t.ipBlock.except || []).includes(c)))))
				p.push(`port ${port} is not limited to public addresses`);
		}
		check(`${label}: postern-${name}'s egress is what it connects to (${need.ports.join(', ') || 'nothing'})`, p);
	}

	for (const s of HPA_SERVICES) {
		const h = hpas.find((x) => x.spec.scaleTargetRef?.kind === 'Deployment' && x.spec.scaleTargetRef?.name === `postern-${s}`);
		const d = deps.find((x) => x.metadata.name === `postern-${s}`);
		const p = [];
		if (!h) p.push('no HPA'); if (!d) p.push('no Deployment');
		if (h && !(h.spec.minReplicas >= 2)) p.push('minReplicas < 2');
		if (d && d.spec.replicas !== undefined) p.push('Deployment sets replicas (kubectl apply would fight the HPA)');
		check(`${label}: HorizontalPodAutoscaler for postern-${s}`, p);
	}
	check(`${label}: every HPA targets an existing Deployment`, hpas.filter((h) => !deps.some((d) => d.metadata.name === h.spec.scaleTargetRef.name)).map(id));

	// Postern's shape. Two or more brokers: a StatefulSet (stable names)
	// behind a headless Service; every worker and client is given every
	// broker by name in postern-config; a budget keeps one up.
	const broker = objs.find((d) => d.kind === 'StatefulSet' && d.metadata.name === 'postern-broker');
	const svc = (n) => objs.find((o) => o.kind === 'Service' && o.metadata.name === n);
	const n = broker?.spec.replicas ?? 1;
	const want = broker ? [...Array(n).keys()].map((i) => `tcp://postern-broker-${i}.${broker.spec.serviceName}:5555`).join(',') : '';
	const bcfg = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'postern-config');
	const bpdb = pdbs.find((p) => broker && matches(p.spec.selector, broker.spec.template.metadata?.labels));
	check(`${label}: two or more brokers (StatefulSet, headless Service on 5555, every one in POSTERN_BROKER, a budget keeping one up)`, [
		!broker && 'no StatefulSet postern-broker',
		broker && !(n >= 2) && 'replicas < 2',
		broker && broker.spec.podManagementPolicy !== 'Parallel' && 'podManagementPolicy is not Parallel (a dead broker-0 would hold back broker-1)',
		broker && svc(broker.spec.serviceName)?.spec.clusterIP !== 'None' && `Service ${broker.spec.serviceName} is not headless`,
		!(svc('postern-broker')?.spec.ports || []).some((p) => p.port === 5555) && 'no Service port 5555',
		!(svc('postern-broker')?.spec.ports || []).some((p) => p.port === HEALTH_PORT.broker) && `no Service port ${HEALTH_PORT.broker}`,
		bcfg?.data?.POSTERN_BROKER !== want && `POSTERN_BROKER is ${bcfg?.data?.POSTERN_BROKER}, want ${want}`,
		broker && !(bpdb && (bpdb.spec.minAvailable >= 1 || bpdb.spec.maxUnavailable <= n - 1)) && 'no budget keeping a broker up',
	]);
	for (const s of SERVICES.filter((x) => x !== 'reaper' && x !== 'broker'))
		check(`${label}: postern-${s} is a Deployment with a Service exposing its health port`, [
			!deps.some((d) => d.metadata.name === `postern-${s}`) && 'no Deployment',
			!(svc(`postern-${s}`)?.spec.ports || []).some((p) => p.port === HEALTH_PORT[s]) && `no Service port ${HEALTH_PORT[s]}`,
		]);
	const services = objs.filter((o) => o.kind === 'Service');
	const unmatched = [];
	for (const s of services) {
		const w = workloads.find((x) => matches({ matchLabels: s.spec.selector }, podTemplate(x).metadata?.labels));
		if (!w) { unmatched.push(`${id(s)} selects no pods`); continue; }
		const names = podTemplate(w).spec.containers.flatMap((c) => (c.ports || []).map((p) => p.name));
		for (const p of s.spec.ports) if (typeof p.targetPort === 'string' && !names.includes(p.targetPort)) unmatched.push(`${id(s)} targetPort ${p.targetPort}`);
	}
	check(`${label}: every Service selects pods and names existing ports`, unmatched);
	const ing = objs.find((o) => o.kind === 'Ingress');
	check(`${label}: the web UI is behind an Ingress with TLS on the webui Service port 8080`, [
		!ing && 'no Ingress',
		ing && !(ing.spec.tls || []).some((t) => t.secretName) && 'no tls secretName',
		ing && !ing.spec.rules?.some((r) => r.http?.paths?.some((p) => p.backend.service?.name === 'postern-webui')) && 'does not route to postern-webui',
		!(svc('postern-webui')?.spec.ports || []).some((p) => p.port === 8080) && 'postern-webui Service has no port 8080',
	]);
	// The gateway: milter and API on its Service; each of the two ports open
	// only to pods with its role label (any namespace), and no egress but the broker.
	const gwPolicy = nps.find((n) => n.metadata.name === 'postern-gateway');
	const gwProblems = [];
	for (const port of [7025, 8025])
		if (!(svc('postern-gateway')?.spec.ports || []).some((p) => p.port === port)) gwProblems.push(`no Service port ${port}`);
	if (!gwPolicy) gwProblems.push('no NetworkPolicy postern-gateway');
	for (const rule of gwPolicy?.spec.ingress || []) {
		for (const port of (rule.ports || []).map((p) => p.port)) {
			const want = GATEWAY_PEERS[port];
			if (!want) continue;
			const peers = rule.from || [];
			if (!peers.length || peers.some((f) => f.ipBlock || JSON.stringify(f.podSelector?.matchLabels || {}) !== JSON.stringify(want)))
				gwProblems.push(`port ${port} is open to more than pods labelled ${JSON.stringify(want)}`);
		}
		if (!(rule.ports || []).length) gwProblems.push('an ingress rule without ports');
	}
	for (const port of Object.keys(GATEWAY_PEERS).map(Number))
		if (!(gwPolicy?.spec.ingress || []).some((r) => (r.ports || []).some((p) => p.port === port))) gwProblems.push(`port ${port} admits nobody`);
	for (const rule of gwPolicy?.spec.egress || [])
		if (!(rule.to || []).length || (rule.to || []).some((t) => t.podSelector?.matchLabels?.['app.kubernetes.io/name'] !== 'postern-broker'))
			gwProblems.push('egress to something other than the broker');
	check(`${label}: the gateway's milter port admits only the MTA, its API only composers, its egress only the broker`, gwProblems);
	const reaper = objs.find((o) => o.kind === 'CronJob' && o.metadata.name === 'postern-reaper');
	check(`${label}: the reaper is a CronJob running --once, never overlapping`, [
		!reaper && 'no CronJob postern-reaper',
		reaper && !(reaper.spec.jobTemplate.spec.template.spec.containers[0].args || []).includes('--once') && 'no --once',
		reaper && reaper.spec.concurrencyPolicy !== 'Forbid' && 'concurrencyPolicy is not Forbid',
	]);

	const secretsWithData = objs.filter((o) => o.kind === 'Secret' && (Object.keys(o.data || {}).length || Object.keys(o.stringData || {}).length));
	check(`${label}: no Secret carries data (secrets come from make-secrets.sh)`, secretsWithData.map(id));
	const cms = objs.filter((o) => o.kind === 'ConfigMap');
	const missingCm = references(objs).filter((r) => r.kind === 'ConfigMap' && !r.optional)
		.filter((r) => !cms.some((c) => c.metadata.name === r.name && r.keys.every((k) => Object.hasOwn(c.data || {}, k))))
		.map((r) => `${r.from} -> ${r.name}`);
	check(`${label}: every ConfigMap a pod needs is in the kustomization`, missingCm);
	if (isBase) {
		const cfg = cms.find((c) => c.metadata.name === 'postern-config')?.data || {};
		check(`${label}: postern-config holds no secrets`, Object.keys(cfg).filter((k) => /PASSWORD|SECRET|DSN|KEY/.test(k) && !k.endsWith('_FILE')));
	}
	return objs;
}

// The Secrets make-secrets.sh writes must be valid and hold every key a pod uses.
async function validateSecrets(objsByLabel) {
	const ctl = path.join(root, 'build/bin/posternctl');
	if (!fs.existsSync(ctl)) return skip('make-secrets.sh output', 'build/bin/posternctl not built (run make)');
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-secrets-'));
	try {
		for (const [label, standalone] of [['base', false], ['standalone', true]]) {
			const objs = objsByLabel[label];
			if (!objs) continue;
			const args = ['--certs', path.join(tmp, `certs-${label}`), '-o', path.join(tmp, `${label}.yaml`)];
			if (standalone) args.push('--standalone');
			else { fs.writeFileSync(path.join(tmp, 'dsn'), 'host=db.example.internal dbname=postern user=postern password=x'); args.push('--pg-dsn-file', path.join(tmp, 'dsn')); }
			const run = spawnSync(path.join(k8s, 'make-secrets.sh'), args, { encoding: 'utf8' });
			if (run.status !== 0) { check(`make-secrets.sh ${standalone ? '--standalone' : '(managed)'} runs`, (run.stderr || '').trim().split('\n').pop()); continue; }
			const secrets = yaml.loadAll(fs.readFileSync(path.join(tmp, `${label}.yaml`), 'utf8')).filter(Boolean);
			const schema = [];
			for (const s of secrets) for (const p of await schemaCheck(s)) schema.push(`${id(s)}: ${p}`);
			check(`make-secrets.sh ${standalone ? '--standalone' : '(managed)'}: valid Secrets in namespace ${NAMESPACE}`,
				schema.concat(secrets.filter((s) => s.kind !== 'Secret' || s.metadata.namespace !== NAMESPACE).map(id)));
			const missing = references(objs).filter((r) => r.kind === 'Secret' && !r.optional).flatMap((r) => {
				const s = secrets.find((x) => x.metadata.name === r.name);
				if (!s) return [`${r.from} -> Secret ${r.name} not made`];
				return r.keys.filter((k) => !Object.hasOwn(s.data || {}, k)).map((k) => `${r.from} -> ${r.name}/${k} not made`);
			});
			check(`make-secrets.sh ${standalone ? '--standalone' : '(managed)'}: every Secret and key the ${label} pods mount exists`, missing);
			const allow = secrets.find((s) => s.metadata.name === 'postern-curve-allow');
			check(`make-secrets.sh: the broker allow-list holds public keys only`,
				Object.entries(allow?.data || {}).filter(([, v]) => /secret-key/.test(Buffer.from(v, 'base64').toString())).map(([k]) => k)
					.concat(allow ? [] : ['no postern-curve-allow']));
			// every client of the allow-list has its role beside it (docs/security.md, "Roles on the bus")
			const roles = ['publisher', 'webui', 'reaper', 'operator', 'service'];
			const want = { keylookup: 'service', provision: 'service', mailstore: 'service', webui: 'webui',
				reaper: 'reaper', gateway: 'publisher', posternctl: 'operator' };
			const data = allow?.data || {};
			check(`make-secrets.sh: each allow-list certificate has its role (NAME.role)`,
				Object.keys(data).filter((k) => k.endsWith('.cert')).flatMap((k) => {
					const name = k.slice(0, -5), role = data[`${name}.role`];
					const word = role ? Buffer.from(role, 'base64').toString().trim() : '';
					if (!roles.includes(word)) return [`${name}: role "${word}"`];
					return want[name] && want[name] !== word ? [`${name}: role ${word}, want ${want[name]}`] : [];
				}).concat(Object.keys(data).some((k) => k.endsWith('.role')) ? [] : ['no role files']));
		}
	} finally {
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

// ---------------------------------------------------------------------------
function validateDockerfile() {
	const file = path.join(root, 'deploy/Dockerfile');
	if (!fs.existsSync(file)) return check('deploy/Dockerfile exists', 'missing');
	const lines = fs.readFileSync(file, 'utf8').replace(/\\\n/g, ' ').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
	const stages = new Map();
	let cur = null;
	for (const l of lines) {
		const m = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(l.trim());
		if (m) { cur = { name: m[2] || `#${stages.size}`, from: m[1], lines: [] }; stages.set(cur.name, cur); continue; }
		if (cur) cur.lines.push(l.trim());
	}
	const instr = (st, word) => st.lines.filter((l) => l.toUpperCase().startsWith(`${word} `));
	const build = [...stages.values()].find((s) => s.lines.some((l) => /tools\/deps/.test(l)) && s.lines.some((l) => /\bmake\b/.test(l)));
	check('Dockerfile: a build stage runs tools/deps and make', build ? [] : ['none']);
	check('Dockerfile: the build stage installs build packages only (tools/deps --build)',
		build && build.lines.some((l) => /tools\/deps --build/.test(l)) ? [] : ['tools/deps without --build installs the test servers and browser']);
	// "# syntax=" makes BuildKit pull a front-end image: fails offline.
	const raw = fs.readFileSync(file, 'utf8').split('\n');
	check('Dockerfile: no "# syntax=" directive (it needs a registry)', raw.filter((l) => /^#\s*syntax\s*=/i.test(l)));
	check('Dockerfile: every FROM of a base image is a build argument', [...stages.values()]
		.filter((st) => !stages.has(st.from) && !/^\$\{?\w+\}?$/.test(st.from)).map((st) => `${st.name}: FROM ${st.from}`));
	check('Dockerfile: no HEALTHCHECK (Kubernetes probes do that)', lines.filter((l) => /^HEALTHCHECK/i.test(l.trim())));
	// Packages a stage installs, following FROM <stage> chains.
	const pkgs = (st) => {
		const own = st.lines.filter((l) => /apt-get install/.test(l)).flatMap((l) => l.split(/apt-get install/)[1].split('&&')[0].trim().split(/\s+/)).filter((w) => w && !w.startsWith('-'));
		return stages.has(st.from) ? [...pkgs(stages.get(st.from)), ...own] : own;
	};
	const lastUser = (st) => { const u = instr(st, 'USER').pop(); return u ? u.split(/\s+/)[1] : stages.has(st.from) ? lastUser(stages.get(st.from)) : undefined; };
	for (const s of SERVICES) {
		const st = stages.get(s);
		if (!st) { check(`Dockerfile: stage ${s}`, 'missing'); continue; }
		const user = lastUser(st), uid = user && Number(user.split(':')[0]);
		check(`Dockerfile: stage ${s} runs as a numeric non-root USER, starts postern-${s}`, [
			!(Number.isInteger(uid) && uid > 0) && `USER ${user} is not a numeric non-root uid`,
			!instr(st, 'ENTRYPOINT').some((l) => l.includes(`postern-${s}`)) && `ENTRYPOINT does not start postern-${s}`,
			!instr(st, 'COPY').some((l) => /--from=build/.test(l) && l.includes(`postern-${s}`)) && 'binary not copied from the build stage',
			/(^|\s)(build-essential|\S+-dev)(\s|$)/.test(pkgs(st).join(' ')) && 'installs build packages',
		]);
	}
	// A program that speaks the recipient's language (its configuration has
	// POSTERN_LOCALE_DIR) needs the compiled catalogues beside its bin/ and
	// glibc's locales in its image, or a pod would not start (or not speak German).
	for (const s of SERVICES) {
		const st = stages.get(s), bin = path.join(root, 'build/bin', `postern-${s}`);
		if (!st || !fs.existsSync(bin) || !fs.readFileSync(bin).includes('POSTERN_LOCALE_DIR')) continue;
		check(`Dockerfile: stage ${s} carries the message catalogues and glibc's locales`, [
			!instr(st, 'COPY').some((l) => /--from=build\s+\/out\/locale\s+\/usr\/local\/locale\/?$/.test(l)) && 'no COPY --from=build /out/locale /usr/local/locale/',
			!pkgs(st).includes('locales-all') && 'locales-all is not installed',
		]);
	}
	const ign = fs.existsSync(path.join(root, '.dockerignore')) ? fs.readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()) : [];
	check('.dockerignore keeps .git, build/ and var/ (CURVE secrets) out of the build context',
		['.git', 'build', 'var'].filter((p) => !ign.includes(p) && !ign.includes(`/${p}`) && !ign.includes(`${p}/`)));

	// Every package named must exist in Debian 12 (typos fail only at image
	// build time). apt-cache is slow to start: one call for all of them.
	const all = [...new Set([...stages.values()].flatMap(pkgs))];
	if (!have('apt-cache')) return skip('Dockerfile: runtime packages exist in Debian, stages cover the binaries\' libraries', 'apt-cache not found');
	const shown = spawnSync('apt-cache', ['show', '--no-all-versions', ...all], { encoding: 'utf8' }).stdout || '';
	const known = new Set([...shown.matchAll(/^Package: (\S+)/gm)].map((m) => m[1]));
	check('Dockerfile: every runtime package exists in this Debian release', all.filter((p) => !known.has(p)));

	// Each service binary's shared libraries must come from packages its stage
	// installs or pulls in: catches a new dependency in lib/ or a service
	// before the image crash-loops. One dependency graph for every package,
	// walked per stage.
	if (!have('readelf') || !have('dpkg')) return skip('Dockerfile: stages cover the binaries\' libraries', 'readelf/dpkg not found');
	// apt-cache depends prints a package's dependencies one per line; a line
	// " |Depends: a" means "a, or the next line", and "<v>" is a virtual
	// package followed by its providers. apt installs ONE of a group, so the
	// graph keeps groups: counting every alternative as installed once made
	// gpg-agent's "pinentry-curses | pinentry" pull in pinentry-gnome3 and
	// with it GLib, hiding that keylookup's stage lacked libglib.
	const graph = new Map();     // package -> [[alternative, ...], ...]
	let cur2 = null, group = null, open = false;
	for (const line of (spawnSync('apt-cache', ['depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts',
		'--no-breaks', '--no-replaces', '--no-enhances', ...all], { encoding: 'utf8' }).stdout || '').split('\n')) {
		let m;
		if ((m = /^(\S+)$/.exec(line))) { cur2 = m[1].replace(/[<>]/g, ''); if (!graph.has(cur2)) graph.set(cur2, []); group = null; open = false; }
		else if (cur2 && (m = /^ (\||\s)(?:Pre)?Depends: (\S+)/.exec(line))) {
			if (!open) { group = []; graph.get(cur2).push(group); }
			group.push({ name: m[2].replace(/[<>]/g, '').split(':')[0], virtual: m[2].startsWith('<'), providers: [] });
			open = m[1] === '|';
		}
		else if (group && (m = /^ {4}(\S+)$/.exec(line))) group[group.length - 1].providers.push(m[1].split(':')[0]);
	}
	// closure - what installing roots brings in: per group, an alternative
	// already chosen if there is one, else the first (a virtual package's
	// first provider), as apt does without preferences.
	const closure = (roots) => {
		const seen = new Set(), todo = [...roots], explicit = new Set(roots);
		const has = (p) => seen.has(p) || explicit.has(p);
		const pick = (grp) => {
			const real = grp.flatMap((a) => (a.virtual ? a.providers : [a.name]));
			return real.find(has) || real[0];
		};
		while (todo.length) {
			const p = todo.pop();
			if (seen.has(p)) continue;
			seen.add(p);
			for (const grp of graph.get(p) || []) { const c = pick(grp); if (c) todo.push(c); }
		}
		return seen;
	};
	// The walk itself: gpg-agent needs "pinentry-curses | pinentry", and a
	// walk that took every provider of pinentry would bring GLib with
	// pinentry-gnome3 (the bug that hid keylookup's missing libglib).
	if (graph.has('gpg-agent')) {
		check('Dockerfile: the dependency walk takes one alternative (gpg-agent brings no GLib)',
			[...closure(['gpg-agent'])].filter((p) => /^libglib2\.0|^pinentry-(gnome3|gtk2|qt|fltk)$/.test(p)));
	}
	const needed = {};
	for (const s of SERVICES) {
		const bin = path.join(root, 'build/bin', `postern-${s}`);
		if (fs.existsSync(bin)) needed[s] = execFileSync('readelf', ['-d', bin], { encoding: 'utf8' }).split('\n').map((l) => /\(NEEDED\).*\[(.+)\]/.exec(l)?.[1]).filter(Boolean);
	}
	const libs = [...new Set(Object.values(needed).flat())];
	const owners = {};
	for (const line of (spawnSync('dpkg', ['-S', ...libs.map((l) => `*/${l}`)], { encoding: 'utf8' }).stdout || '').split('\n')) {
		const m = /^(.+?): (\S+)$/.exec(line);
		if (!m) continue;
		const lib = path.basename(m[2]);
		for (const p of m[1].split(', ')) (owners[lib] ||= new Set()).add(p.split(':')[0]);
	}
	for (const s of SERVICES) {
		if (!stages.get(s)) continue;
		if (!needed[s]) { skip(`Dockerfile: stage ${s} has postern-${s}'s libraries`, 'binary not built'); continue; }
		const inStage = closure(pkgs(stages.get(s)));
		const missing = needed[s].filter((lib) => {
			const o = [...(owners[lib] || [])];
			return o.length && !o.includes('libc6') && !o.some((p) => inStage.has(p));   // libc6: in every base image
		}).map((lib) => `${lib} (${[...owners[lib]][0]})`);
		check(`Dockerfile: stage ${s} installs every library postern-${s} links`, missing);
	}
}

// ---------------------------------------------------------------------------
const base = await validateRender('base', path.join(k8s, 'base'), { isBase: true });
const standalone = await validateRender('standalone', path.join(k8s, 'overlays/standalone'), { isBase: false });
if (standalone) {
	const names = new Set(standalone.map((o) => `${o.kind}/${o.metadata.name}`));
	check('standalone: adds Redis and PostgreSQL StatefulSets with volume claims and Services', [
		...['StatefulSet/postern-redis', 'StatefulSet/postern-postgres', 'Service/postern-redis', 'Service/postern-postgres'].filter((n) => !names.has(n)),
		...standalone.filter((o) => o.kind === 'StatefulSet' && o.metadata.name !== 'postern-broker' && !(o.spec.volumeClaimTemplates || []).length).map((o) => `${id(o)} has no volumeClaimTemplates`),
	]);
	const redis = standalone.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'postern-redis');
	check('standalone: Redis runs with appendonly yes', JSON.stringify(redis?.spec.template.spec.containers[0] || {}).includes('--appendonly yes') ? [] : ['no --appendonly yes']);
	const cfg = standalone.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'postern-config');
	check('standalone: postern-config points at the in-cluster Redis', /^postern-redis[.:]/.test(cfg?.data?.POSTERN_REDIS || '') ? [] : [`POSTERN_REDIS=${cfg?.data?.POSTERN_REDIS}`]);
}
// Redis behind Sentinel, PostgreSQL behind PgBouncer (docs/ha.md)
const ha = await validateRender('managed-ha', path.join(k8s, 'overlays/managed-ha'), { isBase: false });
if (ha) {
	const cfg = ha.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'postern-config');
	check('managed-ha: postern-config names the sentinels and transaction pooling', [
		!/^sentinel:\/\/[^@\s]+@[^,\s]+:\d+(,[^,\s]+:\d+)*$/.test(cfg?.data?.POSTERN_REDIS || '') && `POSTERN_REDIS=${cfg?.data?.POSTERN_REDIS}`,
		cfg?.data?.POSTERN_PG_TRANSACTION_POOLING !== '1' && 'POSTERN_PG_TRANSACTION_POOLING is not "1"',
	]);
}
await validateSecrets({ base, standalone });
validateDockerfile();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
