// The wire (WIT `iam:atlassian/wire`): the gate hands this host a finished request, and the
// component waits for the answer synchronously (jco calls imports synchronously, and JSPI
// needs a newer Node). So the request goes to a worker thread (wire-worker.mjs), which sends
// it with undici, and this thread blocks on Atomics.wait until the worker posts the answer.

import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';

/** Time beyond a request's own timeout after which a silent worker counts as lost. */
const WORKER_SLACK_MS = 5000;

export class Wire {
  /** `connectTimeoutMs`: the engine's limit on one TCP (and TLS) connect. */
  constructor(connectTimeoutMs) {
    this.connectTimeoutMs = Number(connectTimeoutMs);
    this.worker = null;
  }

  #start() {
    const { port1, port2 } = new MessageChannel();
    this.flag = new Int32Array(new SharedArrayBuffer(4));
    this.port = port1;
    const workerData = { flag: this.flag.buffer, port: port2, connectTimeoutMs: this.connectTimeoutMs };
    this.worker = new Worker(new URL('./wire-worker.mjs', import.meta.url), { workerData, transferList: [port2] });
    // Never what keeps the process alive: the command is over when its last send returns.
    this.worker.unref();
  }

  /** WIT `send`: `{tag: 'ok', val: incoming}` or `{tag: 'err', val: wire-error}`. */
  send(outgoing) {
    if (this.worker === null) this.#start();
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(outgoing);
    Atomics.wait(this.flag, 0, 0, Math.min(Number(outgoing.timeoutMs) + WORKER_SLACK_MS, 2 ** 31 - 1));
    const answer = receiveMessageOnPort(this.port);
    if (answer !== undefined) return answer.message;
    // The worker is gone or stuck: a later request gets a new one, never this one's answer.
    this.close();
    return { tag: 'err', val: { tag: 'transport', val: "the host's HTTP worker did not answer" } };
  }

  close() {
    this.worker?.terminate();
    this.port?.close();
    this.worker = null;
  }
}
