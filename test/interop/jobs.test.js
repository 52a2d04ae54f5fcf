// Jobs v2 through the service SDK's JobClient (REST): twin-update and
// direct-method jobs over a twin query, cancellation, and the job list.
'use strict';
const assert = require('node:assert/strict');
const { setTimeout: delay } = require('node:timers/promises');
const { test } = require('node:test');
const { JobClient } = require('azure-iothub');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Devices, connectionString, deviceClient, registry, rejectsWith, serviceClient, uniqueId } = require('./hub');

const ended = new Set(['completed', 'failed', 'cancelled']);

/**
 * Reads the job until it has ended, and returns it. The service API tells
 * no one when a job ends: the SDK's own end-to-end tests read the job
 * until its status says so, and so does this, every 50 ms for up to 30 s.
 */
async function jobEnded(jobs, jobId) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const job = (await jobs.getJob(jobId)).jobStatus;
    if (ended.has(job.status)) {
      return job;
    }
    assert.ok(Date.now() < deadline, `job ${jobId} still ${job.status} after 30 s`);
    await delay(50);
  }
}

/**
 * A JobClient whose jobs are cancelled when the test ends: the hub runs
 * one job at a time, and a job left behind by a failed test would hold
 * the next one back.
 */
function jobClient(t) {
  const jobs = JobClient.fromConnectionString(connectionString);
  const ids = [];
  t.after(async () => {
    for (const id of ids) {
      await jobs.cancelJob(id);
    }
  });
  return { jobs, track: (id) => ids.push(id) && id };
}

/**
 * Every page of query. The promise form of Query.next() (azure-iothub
 * 1.16.6) drops the continuation token when called without one, and so
 * reads the first page again and again: it is given the token.
 */
async function allPages(query, pageSize) {
  const pages = [];
  while (query.hasMoreResults) {
    assert.ok(pages.length < 1000, 'the pages never end');
    const page = (await query.next(query.continuationToken)).result;
    if (pageSize) {
      assert.ok(page.length <= pageSize, `a page of ${page.length}, more than ${pageSize}`);
    }
    pages.push(page);
  }
  return pages.flat();
}

/** The per-device records of a job, through a devices.jobs query. */
async function deviceJobs(reg, jobId) {
  const records = await allPages(reg.createQuery(`SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '${jobId}'`, 1), 1);
  return records.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}

test('jobs: scheduleTwinUpdate patches the twins its query names', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const { jobs, track } = jobClient(t);
  const ids = [uniqueId('jobtwin'), uniqueId('jobtwin'), uniqueId('jobtwin')];
  for (const id of ids) {
    await devices.create({ deviceId: id });
  }

  const jobId = track(uniqueId('twinjob'));
  const patch = { etag: '*', tags: { building: '45' }, properties: { desired: { floor: 3 }, reported: {} } };
  const created = (await jobs.scheduleTwinUpdate(jobId, `deviceId IN ['${ids[0]}', '${ids[1]}']`, patch, new Date(), 120)).jobStatus;
  assert.equal(created.jobId, jobId);
  assert.equal(created.type, 'scheduleUpdateTwin');
  await rejectsWith(jobs.scheduleTwinUpdate(jobId, `deviceId = '${ids[0]}'`, patch, new Date(), 120), 'DeviceAlreadyExistsError', 409);

  const job = await jobEnded(jobs, jobId);
  assert.equal(job.status, 'completed');
  assert.deepEqual(job.deviceJobStatistics, { deviceCount: 2, failedCount: 0, succeededCount: 2, runningCount: 0, pendingCount: 0 });
  for (const id of ids.slice(0, 2)) {
    const twin = (await reg.getTwin(id)).responseBody;
    assert.deepEqual(twin.tags, { building: '45' }, `tags of ${id}`);
    assert.equal(twin.properties.desired.floor, 3, `desired properties of ${id}`);
  }
  assert.deepEqual((await reg.getTwin(ids[2])).responseBody.tags, {}, 'a device the query does not name is left alone');

  const records = await deviceJobs(reg, jobId);
  assert.deepEqual(records.map((r) => [r.deviceId, r.jobType, r.status]), [
    [ids[0], 'scheduleUpdateTwin', 'completed'],
    [ids[1], 'scheduleUpdateTwin', 'completed'],
  ].sort((a, b) => a[0].localeCompare(b[0])));
});

test('jobs: scheduleDeviceMethod calls the connected devices its query names', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const { jobs, track } = jobClient(t);
  const id = uniqueId('jobmethod');
  const device = await devices.create({ deviceId: id });
  const client = await devices.open(deviceClient(device, Mqtt));
  const requests = [];
  client.onDeviceMethod('reboot', (request, response) => {
    requests.push(request.payload);
    response.send(200, { rebooting: true }, () => {});
  });
  // A method job does not wait for devices to subscribe, and the SDK does
  // not say when it has: a direct call that waits for the subscription
  // comes first.
  await serviceClient().invokeDeviceMethod(id, { methodName: 'reboot', payload: 'warm-up', responseTimeoutInSeconds: 10, connectTimeoutInSeconds: 30 });

  const jobId = track(uniqueId('methodjob'));
  const method = { methodName: 'reboot', payload: { delay: 30 }, responseTimeoutInSeconds: 10 };
  const created = (await jobs.scheduleDeviceMethod(jobId, `deviceId = '${id}'`, method, new Date(), 120)).jobStatus;
  assert.equal(created.type, 'scheduleDeviceMethod');

  const job = await jobEnded(jobs, jobId);
  assert.equal(job.status, 'completed');
  assert.equal(job.deviceJobStatistics.succeededCount, 1);
  assert.deepEqual(requests, ['warm-up', { delay: 30 }]);
  const [record] = await deviceJobs(reg, jobId);
  assert.equal(record.status, 'completed');
  assert.deepEqual(record.outcome.deviceMethodResponse, { status: 200, payload: { rebooting: true } });
});

test('jobs: a job scheduled for later is cancelled, and listed', async (t) => {
  const reg = registry();
  const devices = new Devices(reg);
  t.after(() => devices.deleteAll());
  const { jobs, track } = jobClient(t);
  const id = uniqueId('jobcancel');
  await devices.create({ deviceId: id });

  const jobId = track(uniqueId('laterjob'));
  const later = new Date(Date.now() + 3600 * 1000);
  const created = (await jobs.scheduleTwinUpdate(jobId, `deviceId = '${id}'`, { etag: '*', tags: { x: 1 } }, later, 120)).jobStatus;
  assert.equal(created.jobId, jobId);
  assert.equal(new Date(created.startTime).getTime(), later.getTime());
  assert.ok(!ended.has(created.status), `a job for later is ${created.status}`);

  const cancelled = (await jobs.cancelJob(jobId)).jobStatus;
  assert.equal(cancelled.status, 'cancelled');
  assert.equal((await jobs.getJob(jobId)).jobStatus.status, 'cancelled');
  assert.deepEqual((await reg.getTwin(id)).responseBody.tags, {}, 'a cancelled job changes nothing');

  // The job list, a page of one job at a time.
  const listed = await allPages(jobs.createQuery('scheduleUpdateTwin', 'cancelled', 1), 1);
  assert.ok(listed.some((j) => j.jobId === jobId), `${jobId} among the cancelled twin jobs`);
  assert.ok(listed.every((j) => j.status === 'cancelled' && j.type === 'scheduleUpdateTwin'), JSON.stringify(listed));

  await rejectsWith(jobs.getJob(uniqueId('nojob')), 'Error', 404);
});
