// render.mjs - the kustomizations in deploy/k8s as objects, for the offline
// validator (validate.mjs) and the podman test (kube-translate.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

// Rendering. kubectl kustomize when there is a kubectl; otherwise the
// resource files the kustomizations list, with the few transformations these
// kustomizations use done here: namespace, images, and patch files merged
// the strategic way for what they touch (maps merge, lists are replaced).
export function render(dir) {
	if (have('kubectl')) return { objs: yaml.loadAll(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })), how: 'kubectl kustomize' };
	if (have('kustomize')) return { objs: yaml.loadAll(execFileSync('kustomize', ['build', dir], { encoding: 'utf8' })), how: 'kustomize build' };
	return { objs: rawResources(dir), how: 'raw files' };
}
function merge(into, patch) {
	for (const [k, v] of Object.entries(patch)) {
		if (v && typeof v === 'object' && !Array.isArray(v) && into[k] && typeof into[k] === 'object' && !Array.isArray(into[k])) merge(into[k], v);
		else into[k] = v;
	}
}
function rawResources(dir) {
	const k = yaml.load(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'));
	const objs = [];
	for (const r of k.resources || []) {
		const p = path.join(dir, r);
		if (fs.statSync(p).isDirectory()) objs.push(...rawResources(p));
		else objs.push(...yaml.loadAll(fs.readFileSync(p, 'utf8')).filter(Boolean));
	}
	for (const pt of k.patches || []) {
		if (!pt.path) throw new Error(`${dir}: only file patches are supported without kubectl`);
		for (const p of yaml.loadAll(fs.readFileSync(path.join(dir, pt.path), 'utf8')).filter(Boolean)) {
			const t = objs.find((o) => o.kind === p.kind && o.metadata?.name === p.metadata?.name);
			if (!t) throw new Error(`${dir}/${pt.path}: no ${p.kind}/${p.metadata?.name} to patch`);
			const { metadata, ...rest } = p;
			merge(t, rest);
		}
	}
	for (const o of objs) {
		if (k.namespace && o.kind !== 'Namespace' && o.metadata) o.metadata.namespace = k.namespace;
		const spec = podTemplate(o)?.spec;
		for (const c of [...(spec?.initContainers || []), ...(spec?.containers || [])]) {
			const img = (k.images || []).find((i) => i.name === c.image);
			if (img) c.image = `${img.newName || img.name}:${img.newTag}`;
		}
	}
	return objs;
}

// podTemplate - the pod template of a workload (a CronJob's is two levels down)
export function podTemplate(o) {
	if (o.kind === 'CronJob') return o.spec?.jobTemplate?.spec?.template;
	return o.spec?.template;
}
