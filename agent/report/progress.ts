/**
 * A one-line spinner with counts on stderr, for a person at a terminal: shown only when stderr is a
 * TTY and the output is not --json; otherwise nothing at all is written, so scripts, pipes and
 * log collectors see no control characters.
 */

/** The part of a stream the spinner needs (process.stderr in the CLI). */
export interface ProgressStream {
  isTTY?: boolean;
  write(chunk: string): boolean;
}

export interface Progress {
  /** Replaces the text after the spinner, e.g. "probe: 12 hosts, 87 observations". */
  update(text: string): void;
  /** Stops the spinner and clears its line. */
  done(): void;
}

/** Whether a spinner belongs on `stream`: a terminal, and not a --json run. */
export function progressWanted(stream: ProgressStream, options: { json: boolean }): boolean {
  return stream.isTTY === true && !options.json;
}

const FRAMES = ['|', '/', '-', '\\'];
/** ANSI "erase to end of line" (ECMA-48 EL, CSI K). */
const CLEAR_LINE = '\r\x1b[K';
const FRAME_MS = 120;

const SILENT: Progress = { update: () => undefined, done: () => undefined };

export function createProgress(stream: ProgressStream, options: { json: boolean }, frameMs = FRAME_MS): Progress {
  if (!progressWanted(stream, options)) return SILENT;
  let text = '';
  let frame = 0;
  let lastDraw = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = (): void => {
    lastDraw = Date.now();
    stream.write(`${CLEAR_LINE}${FRAMES[frame++ % FRAMES.length]} ${text}`);
  };
  return {
    update(next) {
      text = next;
      if (!timer) {
        timer = setInterval(draw, frameMs);
        timer.unref();
      }
      // Observations can arrive by the hundred a second: redraw at most once a frame.
      if (Date.now() - lastDraw >= frameMs) draw();
    },
    done() {
      if (!timer) return;
      clearInterval(timer);
      timer = undefined;
      stream.write(CLEAR_LINE);
    },
  };
}
