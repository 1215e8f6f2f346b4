// pg-boss baseline for bench/dispatch.sh: queues JOBS no-op jobs, then WORKERS loops each fetch
// a batch of 50 and complete it until the queue is empty. Prints "JOBS SECONDS" of the drain.
//
// usage: node pgboss.js DATABASE_URL JOBS WORKERS   (NODE_PATH must find pg-boss)
const PgBoss = require('pg-boss');

async function main() {
  const [url, jobsArg, workersArg] = process.argv.slice(2);
  const jobs = Number(jobsArg);
  const workers = Number(workersArg);
  const boss = new PgBoss({ connectionString: url, max: workers + 2, supervise: false,
                            schedule: false });
  boss.on('error', (e) => console.error('pg-boss:', e.message));
  await boss.start();
  const queue = 'bench';
  await boss.createQueue(queue);
  for (let i = 0; i < jobs; i += 1000) {
    const chunk = [];
    for (let j = i; j < Math.min(jobs, i + 1000); ++j) chunk.push({ name: queue, data: { n: j } });
    await boss.insert(chunk);
  }
  let done = 0;
  const start = process.hrtime.bigint();
  const loop = async () => {
    for (;;) {
      const batch = await boss.fetch(queue, { batchSize: 50 });
      if (!batch || batch.length === 0) return;
      await boss.complete(queue, batch.map((j) => j.id));
      done += batch.length;
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await boss.stop({ graceful: false, wait: false });
  if (done !== jobs) {
    console.error(`pg-boss: completed ${done} of ${jobs} jobs`);
    process.exit(1);
  }
  console.log(`${done} ${seconds.toFixed(3)}`);
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
