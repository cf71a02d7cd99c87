// ONNX Runtime's side of bench/compare_onnxruntime: times one network with onnxruntime-node's
// CPU execution provider and prints one JSON object on stdout:
//   {"version": "1.30.0", "seconds_per_slice": 0.93, "runs": [...], "threads": 2, "size": 1024}
//
//   node compare_onnxruntime.mjs --module-dir DIR --model TomoGAN.onnx \
//        [--size 1024] [--threads 2] [--repeats 5] [--warmup 2] [--seed 1]
//
// DIR is the folder that holds node_modules/onnxruntime-node (an `npm install --prefix DIR`).
// The package is loaded with require() from there because an ES module import resolves only
// from this script's folder, and NODE_PATH does not apply to imports.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

function fail(message) {
    process.stderr.write(`compare_onnxruntime.mjs: error: ${message}\n`);
    process.exit(1);
}

function parse_arguments(argv) {
    const options = { size: 1024, threads: 2, repeats: 5, warmup: 2, seed: 1 };
    const integer_options = new Set(['size', 'threads', 'repeats', 'warmup', 'seed']);
    for (let i = 0; i < argv.length; i += 2) {
        const flag = argv[i];
        const value = argv[i + 1];
        if (!flag.startsWith('--') || value === undefined)
            fail(`expected '--option value' pairs, got '${argv.slice(i).join(' ')}'`);
        const name = flag.slice(2).replace(/-/g, '_');
        if (name === 'module_dir' || name === 'model') {
            options[name] = value;
        } else if (integer_options.has(name)) {
            const number = Number(value);
            const minimum = name === 'warmup' || name === 'seed' ? 0 : 1;
            if (!Number.isInteger(number) || number < minimum)
                fail(`${flag} ${value}: expected an integer >= ${minimum}`);
            options[name] = number;
        } else {
            fail(`unknown option ${flag}`);
        }
    }
    if (!options.module_dir) fail('--module-dir is required');
    if (!options.model) fail('--model is required');
    return options;
}

// mulberry32: a small seeded generator, so that both sides of a comparison can be rerun on
// the same input.
function seeded_uniform(seed) {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function load_onnxruntime(module_dir) {
    const package_json = path.join(module_dir, 'node_modules', 'onnxruntime-node', 'package.json');
    if (!fs.existsSync(package_json))
        fail(`no onnxruntime-node in '${module_dir}' (expected ${package_json})`);
    const version = JSON.parse(fs.readFileSync(package_json, 'utf8')).version;
    const require_from_dir = createRequire(path.join(path.resolve(module_dir), 'package.json'));
    try {
        return { ort: require_from_dir('onnxruntime-node'), version };
    } catch (error) {
        fail(`onnxruntime-node ${version} in '${module_dir}' does not load: ${error.message}`);
    }
}

async function main() {
    const options = parse_arguments(process.argv.slice(2));
    if (!fs.existsSync(options.model)) fail(`ONNX model '${options.model}' does not exist`);
    const { ort, version } = load_onnxruntime(options.module_dir);

    let session;
    try {
        session = await ort.InferenceSession.create(options.model, {
            executionProviders: ['cpu'],
            intraOpNumThreads: options.threads,
            interOpNumThreads: 1,
            graphOptimizationLevel: 'all',
        });
    } catch (error) {
        fail(`cannot open ONNX model '${options.model}': ${error.message}`);
    }
    if (!session.inputNames.includes('x') || !session.outputNames.includes('y'))
        fail(`ONNX model '${options.model}' has inputs [${session.inputNames}] and outputs ` +
             `[${session.outputNames}]; expected input 'x' and output 'y'`);

    const size = options.size;
    const pixels = new Float32Array(size * size);
    const uniform = seeded_uniform(options.seed);
    for (let i = 0; i < pixels.length; ++i) pixels[i] = 255 * uniform();
    const feeds = { x: new ort.Tensor('float32', pixels, [1, 1, size, size]) };

    const run_once = async () => {
        const start = performance.now();
        const results = await session.run(feeds);
        const seconds = (performance.now() - start) / 1000;
        const dims = results.y.dims;
        if (dims.length !== 4 || dims[2] !== size || dims[3] !== size)
            fail(`output 'y' has dims [${dims}]; expected [1, 1, ${size}, ${size}]`);
        return seconds;
    };

    try {
        for (let i = 0; i < options.warmup; ++i) await run_once();
        const runs = [];
        for (let i = 0; i < options.repeats; ++i) runs.push(await run_once());
        process.stdout.write(JSON.stringify({
            version,
            seconds_per_slice: median(runs),
            runs,
            threads: options.threads,
            size,
        }) + '\n');
    } catch (error) {
        fail(`inference of '${options.model}' on 1x1x${size}x${size} failed: ${error.message}`);
    }
}

await main();
