// kube-translate.mjs - turn a rendered kustomization into what `podman kube
// play` (podman 4.3) runs as the cluster would, for tests/deploy/kube.sh.
// The manifests in deploy/ stay plain Kubernetes; every difference podman
// needs is made here, and each one is listed in deploy/README.md:
//
// - Service, HPA, PDB, NetworkPolicy, Ingress, Namespace, ServiceAccount:
//   dropped (kube play ignores them). Names still resolve: every pod is
//   named as the Service that selects it, and pods on one podman network
//   find each other by pod name (aardvark-dns).
// - Deployment: one pod named as the Deployment (the HPA owns the count).
// - StatefulSet: one pod per replica, <name>-<i>; with a single replica the
//   pod takes the governing Service's name. "<name>-<i>.<service>" in the
//   ConfigMaps becomes "<name>-<i>". Volume claims become volumes.
// - CronJob: written apart (--jobs), as a pod that runs once.
// - Secret volumes: podman 4.3 dereferences a missing "optional" (a crash),
//   ignores items and defaultMode, and writes the base64 text instead of
//   the bytes. They become read-only host directories holding exactly the
//   items, mode 0440, group fsGroup - what the kubelet does.
// - secretKeyRef in env: the value itself (test data only).
// - emptyDir: podman makes a named volume shared by every pod using that
//   name; each pod gets its own, <pod>-<volume>.
// - Container ports: podman publishes each on the host; left out (pods
//   are reached at their address on the podman network).
// - Init containers: podman restarts them forever. Their scripts run in
//   front of the main container's entrypoint, in the main container.
// - A mount under /var/run (a link to /run in Debian images) moves to /run:
//   podman 4.3 follows the link on the host and fills the new volume with
//   the host's directory (its owner, its files).
// - An optional ConfigMap volume that does not exist is left out.
// - Images: --image FROM=TO replaces by name (TO without a tag keeps it).
// - --set KEY=VALUE overrides a postern-config entry.
//
// - --only NAME,NAME: only these workloads (the images that were built).
//
//   node kube-translate.mjs --overlay DIR --secrets FILE --out DIR
//        [--image FROM=TO]... [--set KEY=VALUE]... [--only NAME,...]
// Writes OUT/play.yaml, OUT/jobs.yaml, OUT/secrets/, OUT/volumes (the
// named volumes to remove afterwards), OUT/pods (one pod name a line) and
// OUT/health ("pod port" for each container port named health).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { render, podTemplate } from './render.mjs';

const DROPPED = new Set(['Namespace', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget',
	'NetworkPolicy', 'Ingress', 'ServiceAccount', 'Secret']);

function parseArgs(argv) {
	const a = { image: {}, set: {} };
	for (let i = 0; i < argv.length; i += 2) {
		const [k, v] = [argv[i].replace(/^--/, ''), argv[i + 1]];
		if (v === undefined) throw new Error(`--${k} needs a value`);
		if (k === 'image' || k === 'set') {
			const eq = v.indexOf('=');
			if (eq < 1) throw new Error(`--${k} ${v}: want NAME=VALUE`);
			a[k][v.slice(0, eq)] = v.slice(eq + 1);
		} else a[k] = v;
	}
	for (const k of ['overlay', 'secrets', 'out']) if (!a[k]) throw new Error(`--${k} is required`);
	return a;
}

// secretData - name -> { key: Buffer } from make-secrets.sh's manifest
function secretData(file) {
	const out = {};
	for (const o of yaml.loadAll(fs.readFileSync(file, 'utf8')).filter(Boolean)) {
		if (o.kind !== 'Secret') continue;
		const m = (out[o.metadata.name] = {});
		for (const [k, v] of Object.entries(o.data || {})) m[k] = Buffer.from(v, 'base64');
		for (const [k, v] of Object.entries(o.stringData || {})) m[k] = Buffer.from(v);
	}
	return out;
}

// imageOf - the replacement for an image reference, by name without tag;
// a replacement without a tag keeps the reference's
function imageOf(ref, map) {
	const tag = /:[^/:]+$/.exec(ref)?.[0] || '';
	const to = map[ref.slice(0, ref.length - tag.length)];
	if (!to) return ref;
	return /:[^/:]+$/.test(to) ? to : `${to}${tag}`;
}

// entrypoint - the image's ENTRYPOINT + CMD, for folding init containers in
function entrypoint(image) {
	const out = execFileSync('podman', ['image', 'inspect', '--format', '{{json .Config.Entrypoint}} {{json .Config.Cmd}}', image], { encoding: 'utf8' });
	const [ep, cmd] = out.trim().split(/ (?=[\[n])/).map((j) => JSON.parse(j) || []);
	return [...ep, ...cmd];
}

// secretVolume - write the items of a Secret volume into a host directory
function secretVolume(ctx, pod, vol, fsGroup) {
	const src = ctx.secrets[vol.secret.secretName];
	if (!src) throw new Error(`${pod}: Secret ${vol.secret.secretName} is not in the secrets file`);
	const dir = path.join(ctx.out, 'secrets', pod, vol.name);
	fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
	const items = vol.secret.items || Object.keys(src).map((key) => ({ key, path: key }));
	for (const it of items) {
		if (!src[it.key]) throw new Error(`${pod}: Secret ${vol.secret.secretName} has no key ${it.key}`);
		const f = path.join(dir, it.path);
		fs.writeFileSync(f, src[it.key], { mode: it.mode ?? vol.secret.defaultMode ?? 0o644 });
		fs.chmodSync(f, it.mode ?? vol.secret.defaultMode ?? 0o644);
		if (fsGroup !== undefined) fs.chownSync(f, 0, fsGroup);
	}
	fs.chmodSync(dir, 0o750);
	if (fsGroup !== undefined) fs.chownSync(dir, 0, fsGroup);
	return { name: vol.name, hostPath: { path: dir, type: 'Directory' } };
}

// foldInit - run the init containers' scripts in front of the entrypoint
function foldInit(spec, ctx) {
	const inits = spec.initContainers || [];
	delete spec.initContainers;
	if (!inits.length) return;
	const main = spec.containers[0];
	const scripts = inits.map((c) => {
		if (c.command?.[0] !== '/bin/sh' || c.command[1] !== '-ec' || c.command.length !== 3 || c.args)
			throw new Error(`init container ${c.name}: only ["/bin/sh", "-ec", script] is folded`);
		for (const m of c.volumeMounts || []) if (!(main.volumeMounts ||= []).some((x) => x.mountPath === m.mountPath)) main.volumeMounts.push(m);
		return c.command[2];
	});
	const argv = main.command ? [...main.command, ...(main.args || [])] : [...entrypoint(main.image), ...(main.args || [])];
	main.command = ['/bin/sh', '-ec', `${scripts.join('\n')}\nexec "$@"`, 'sh', ...argv];
	delete main.args;
}

// podFrom - a kube-play Pod from a workload's pod template
function podFrom(ctx, name, tmpl, claims, restartPolicy) {
	const spec = structuredClone(tmpl.spec);
	const fsGroup = spec.securityContext?.fsGroup;
	spec.hostname = name;
	spec.restartPolicy = restartPolicy;
	for (const c of [...(spec.initContainers || []), ...spec.containers]) {
		c.image = imageOf(c.image, ctx.image);
		for (const e of c.env || []) {
			const ref = e.valueFrom?.secretKeyRef;
			if (!ref) continue;
			const v = ctx.secrets[ref.name]?.[ref.key];
			if (!v) throw new Error(`${name}: env ${e.name}: no Secret ${ref.name}/${ref.key}`);
			e.value = v.toString('utf8');
			delete e.valueFrom;
		}
		for (const e of c.env || []) if (typeof e.value === 'string') e.value = ctx.rewrite(e.value);
	}
	const volumes = [], renamed = {};
	for (const v of [...(spec.volumes || []), ...claims.map((n) => ({ name: n, emptyDir: {} }))]) {
		if (v.secret) volumes.push(secretVolume(ctx, name, v, fsGroup));
		else if (v.emptyDir) {
			renamed[v.name] = `${name}-${v.name}`;
			ctx.volumes.push(renamed[v.name]);
			volumes.push({ name: renamed[v.name], emptyDir: v.emptyDir });
		} else if (v.configMap && !ctx.configMaps.has(v.configMap.name)) {
			if (!v.configMap.optional) throw new Error(`${name}: ConfigMap ${v.configMap.name} missing`);
			renamed[v.name] = null;
		} else volumes.push(v);
	}
	spec.volumes = volumes;
	for (const c of [...(spec.initContainers || []), ...spec.containers]) {
		c.volumeMounts = (c.volumeMounts || []).filter((m) => renamed[m.name] !== null)
			.map((m) => ({ ...m, name: renamed[m.name] || m.name, mountPath: m.mountPath.replace(/^\/var\/run\//, '/run/') }));
	}
	foldInit(spec, ctx);
	// podman 4.3 publishes every containerPort on the host (hostPort defaults
	// to it): two brokers would clash on 5555, and the machine would expose
	// them. Pods are reached by their address on the podman network.
	const health = spec.containers.flatMap((c) => (c.ports || []).filter((x) => x.name === 'health').map((x) => x.containerPort));
	for (const c of spec.containers) delete c.ports;
	if (health.length) ctx.health.push(`${name} ${health[0]}`);
	return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: tmpl.metadata?.labels || {} }, spec };
}

function main() {
	const args = parseArgs(process.argv.slice(2));
	const { objs } = render(args.overlay);
	const ctx = {
		out: args.out, image: args.image, secrets: secretData(args.secrets), volumes: [], health: [],
		configMaps: new Set(objs.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name)),
		rewrite: (s) => s,
	};
	fs.rmSync(path.join(ctx.out, 'secrets'), { recursive: true, force: true });
	fs.mkdirSync(ctx.out, { recursive: true });
	// <sts>-<i>.<service> -> <sts>-<i>: pod names are what podman resolves
	const hosts = [];
	for (const o of objs.filter((x) => x.kind === 'StatefulSet' && (x.spec.replicas ?? 1) > 1))
		for (let i = 0; i < o.spec.replicas; i++) hosts.push([`${o.metadata.name}-${i}.${o.spec.serviceName}`, `${o.metadata.name}-${i}`]);
	ctx.rewrite = (s) => hosts.reduce((acc, [from, to]) => acc.split(from).join(to), s);

	const play = [], jobs = [];
	const only = args.only ? new Set(args.only.split(',').filter(Boolean)) : null;
	for (const o of objs) {
		if (DROPPED.has(o.kind)) continue;
		if (only && o.kind !== 'ConfigMap' && !only.has(o.metadata.name)) continue;
		if (o.kind === 'ConfigMap') {
			const c = structuredClone(o);
			delete c.metadata.namespace;
			for (const [k, v] of Object.entries(c.data || {})) c.data[k] = ctx.rewrite(v);
			if (c.metadata.name === 'postern-config') Object.assign(c.data, args.set);
			play.push(c);
		} else if (o.kind === 'Deployment') {
			play.push(podFrom(ctx, o.metadata.name, podTemplate(o), [], 'Always'));
		} else if (o.kind === 'StatefulSet') {
			const n = o.spec.replicas ?? 1;
			const claims = (o.spec.volumeClaimTemplates || []).map((c) => c.metadata.name);
			for (let i = 0; i < n; i++)
				play.push(podFrom(ctx, n === 1 ? o.spec.serviceName : `${o.metadata.name}-${i}`, podTemplate(o), claims, 'Always'));
		} else if (o.kind === 'CronJob') {
			jobs.push(podFrom(ctx, `${o.metadata.name}-once`, podTemplate(o), [], 'Never'));
		} else throw new Error(`${o.kind}/${o.metadata.name}: no translation for this kind`);
	}
	const dump = (list) => list.map((x) => yaml.dump(x, { lineWidth: -1, noRefs: true })).join('---\n');
	fs.writeFileSync(path.join(ctx.out, 'play.yaml'), dump(play));
	// kube play resolves configMapRef within one file: the jobs need the ConfigMaps too
	fs.writeFileSync(path.join(ctx.out, 'jobs.yaml'), dump([...play.filter((x) => x.kind === 'ConfigMap'), ...jobs]));
	fs.writeFileSync(path.join(ctx.out, 'volumes'), ctx.volumes.map((v) => `${v}\n`).join(''));
	const pods = play.filter((x) => x.kind === 'Pod');
	fs.writeFileSync(path.join(ctx.out, 'pods'), pods.map((p) => `${p.metadata.name}\n`).join(''));
	fs.writeFileSync(path.join(ctx.out, 'health'), ctx.health.filter((h) => pods.some((p) => h.startsWith(`${p.metadata.name} `))).map((h) => `${h}\n`).join(''));
}

try {
	main();
} catch (e) {
	console.error(`kube-translate: ${e.message}`);
	process.exit(1);
}
