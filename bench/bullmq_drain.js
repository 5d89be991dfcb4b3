// BullMQ doing bench/queue.lua's drain: the writes of ROWS (a JSON array
// of guest rows) added as jobs to a queue on the Redis at REDIS_PORT, then
// a Worker of CONCURRENCY that POSTs each to the sandbox (fetch, keep-alive),
// a job done when the API answered 2xx. Prints one JSON line: done, the
// seconds from the worker's start to the last job done, and the process's
// CPU seconds over them.
//   node bench/bullmq_drain.js REDIS_PORT BASE_URL ROWS.json CONCURRENCY
// The API key comes from $PULSE_API_KEY, as for pulse-lua.

const { Queue, Worker, QueueEvents } = require("../tools/interop/node_modules/bullmq");
const fs = require("fs");

const [port, baseUrl, rowsPath, concurrency] = process.argv.slice(2);
const key = process.env.PULSE_API_KEY;
const rows = JSON.parse(fs.readFileSync(rowsPath, "utf8"));
const connection = { host: "127.0.0.1", port: Number(port), maxRetriesPerRequest: null };
const name = "pulse-bench-" + process.pid;

async function main() {
	const queue = new Queue(name, { connection });
	await queue.addBulk(rows.map((row) => ({ name: "post", data: row, opts: { removeOnComplete: true } })));
	let done = 0;
	let finished;
	const all = new Promise((resolve) => (finished = resolve));
	const started = process.hrtime.bigint();
	const cpu = process.cpuUsage();
	const worker = new Worker(
		name,
		async (job) => {
			const res = await fetch(baseUrl + "/v1/guests", {
				method: "POST",
				headers: { "Content-Type": "application/json", Authorization: "Api-key " + key },
				body: JSON.stringify(job.data),
			});
			await res.arrayBuffer();
			if (!res.ok) throw new Error("HTTP " + res.status);
		},
		{ connection, concurrency: Number(concurrency) },
	);
	worker.on("completed", () => {
		done += 1;
		if (done === rows.length) finished();
	});
	worker.on("failed", (job, err) => {
		console.error("job failed:", err.message);
		process.exit(1);
	});
	await all;
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	const used = process.cpuUsage(cpu);
	await worker.close();
	await queue.obliterate({ force: true });
	await queue.close();
	console.log(JSON.stringify({ done, seconds, cpu: (used.user + used.system) / 1e6 }));
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
