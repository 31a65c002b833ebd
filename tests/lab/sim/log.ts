/** One line per event on stdout (lab.sh sends it to .lab/logs/NAME.log). */
export interface SimLog {
  info(msg: string): void;
  warn(msg: string): void;
  child(module: string): SimLog;
}

export function createLog(device: string, module = 'sim'): SimLog {
  const line = (level: string, msg: string): void => {
    // One line per call: strip newlines a peer might have put in a logged value.
    process.stdout.write(`${new Date().toISOString()} ${device} ${level} [${module}] ${msg.replace(/[\r\n]+/g, ' ')}\n`);
  };
  return {
    info: (msg) => line('info', msg),
    warn: (msg) => line('warn', msg),
    child: (m) => createLog(device, m),
  };
}

/** A short, printable excerpt of untrusted bytes for a log line. */
export function excerpt(buf: Buffer | string, max = 80): string {
  const s = typeof buf === 'string' ? buf : buf.toString('latin1');
  const printable = s.replace(/[^\x20-\x7e]/g, '.');
  return JSON.stringify(printable.length > max ? `${printable.slice(0, max)}…` : printable);
}
