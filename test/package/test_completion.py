"""The bash completions offer exactly what the commands accept: for every command path, the words
completed after it (subcommands and options) are compared with that command's own --help.

Run: test_completion.py SSCARDD SSCARD_FEED (the built programs); needs bash-completion."""
import os
import pathlib
import re
import subprocess
import sys
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
PROGRAMS = {}


def from_help(program, path):
    """Subcommands and long options that `program path... --help` lists."""
    text = subprocess.run([program, *path, "--help"], capture_output=True, text=True, check=True).stdout
    words, section = set(), None
    for line in text.splitlines():
        if re.match(r"^\S.*:$", line):
            section = line[:-1]
            continue
        m = re.match(r"^  (\S+)", line)
        if not m:
            continue
        if section == "Subcommands":
            words.add(m.group(1))
        elif section == "Options":
            words.update(w for w in m.group(1).split(",") if w.startswith("--"))
    return words


def completed(command, script, function, path):
    """What the completion function offers for `command path... <TAB>`."""
    line = " ".join([command, *path, ""])
    words = " ".join(f"'{w}'" for w in [command, *path, ""])
    shell = f"""
        source {BASH_COMPLETION}
        source {script}
        COMP_WORDS=({words}); COMP_CWORD={len(path) + 1}
        COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}
        {function} {command} '' '{path[-1] if path else command}'
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", shell], capture_output=True,
                         text=True, check=True, env={"PATH": os.environ["PATH"]}).stdout
    return set(out.split())


class Completion(unittest.TestCase):
    def check(self, command, function, paths):
        script = REPO / "completions" / command
        for path in paths:
            with self.subTest(path=" ".join(path)):
                self.assertEqual(completed(command, script, function, path),
                                 from_help(PROGRAMS[command], path))

    def test_sscardd(self):
        self.check("sscardd", "_sscardd", [
            [], ["run"], ["status"], ["sync"], ["diag"], ["diag", "readers"], ["diag", "read"],
            ["diag", "apdu"], ["diag", "watch"], ["diag", "check"], ["list"], ["list", "status"],
            ["list", "lookup"]])

    def test_sscard_feed(self):
        self.check("sscard-feed", "_sscard_feed", [[], ["keygen"], ["publish"]])


if __name__ == "__main__":
    if not os.path.exists(BASH_COMPLETION):
        print("sscard-test-skip: bash-completion is not installed")
        sys.exit(0)
    PROGRAMS["sscardd"], PROGRAMS["sscard-feed"] = sys.argv.pop(1), sys.argv.pop(1)
    unittest.main()
