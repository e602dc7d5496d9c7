"""Progress over rounds and runs: tqdm when installed, a line per step otherwise."""

import sys


class _TextProgress:
    """Progress on stderr, one line per step, when tqdm is not installed."""

    def __init__(self, total, desc):
        self.total, self.desc, self.n, self.postfix = total, desc, 0, ""

    def set_postfix_str(self, text):
        self.postfix = text

    def update(self, n):
        self.n += n
        line = f"{self.desc}: {self.n}/{self.total} {self.postfix}".rstrip()
        print(line, file=sys.stderr, flush=True)

    def close(self):
        pass


def _progress_bar(total, desc, enabled, leave=False):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextProgress(total, desc)
    return tqdm(total=total, desc=desc, leave=leave)
