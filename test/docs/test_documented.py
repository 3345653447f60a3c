"""The reference documentation keeps up with the code: every configuration key of the example
configuration is described in sscardd.toml(5) and docs/configuration.md under its section, and every
error code of base/error.hpp has its exit status in sscardd(8) and docs/cli.md.

Run: python3 test/docs/test_documented.py"""
import pathlib
import re
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]


def example_keys():
    """(section, key) for every key, set or commented out, of the example configuration."""
    keys, section = [], None
    for line in (REPO / "config/sscardd.toml.example").read_text().splitlines():
        if m := re.match(r"^\[(\w+)\]", line):
            section = m.group(1)
        elif section and (m := re.match(r"^#?\s*([a-z][a-z0-9_]*) = \S", line)):
            keys.append((section, m.group(1)))
    return keys


def sections(text, heading):
    """The text under each heading of the given level whose title starts with [section]."""
    parts = re.split(rf"^{heading} \[(\w+)\].*$", text, flags=re.M)
    found = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        found[name] = re.split(rf"^{heading} ", body, maxsplit=1, flags=re.M)[0]
    return found


def error_codes():
    header = (REPO / "base/error.hpp").read_text()
    body = header[header.index("enum class ErrorCode {"):]
    body = body[: body.index("};")]
    return re.findall(r"^\s+([a-z_]+),", body, flags=re.M)


class ConfigurationDocumented(unittest.TestCase):
    def test_the_example_has_keys(self):
        self.assertGreater(len(example_keys()), 40)

    def test_every_key_in_the_manual_page(self):
        man = sections((REPO / "man/sscardd.toml.5.scd").read_text(), "#")
        missing = [f"[{s}] {k}" for s, k in example_keys() if f"*{k}*" not in man.get(s, "")]
        self.assertEqual(missing, [], "keys not described in man/sscardd.toml.5.scd")

    def test_every_key_in_docs_configuration(self):
        doc = sections((REPO / "docs/configuration.md").read_text(), "##")
        missing = [f"[{s}] {k}" for s, k in example_keys() if f"`{k}`" not in doc.get(s, "")]
        self.assertEqual(missing, [], "keys not described in docs/configuration.md")


class ExitStatusDocumented(unittest.TestCase):
    def test_the_header_has_codes(self):
        self.assertIn("no_session", error_codes())

    def test_every_code_in_the_manual_page(self):
        man = (REPO / "man/sscardd.8.scd").read_text()
        status = man[man.index("# EXIT STATUS"):]
        status = status[: status.index("\n# ", 1)]
        missing = [c for c in error_codes() if f"*{c}*" not in status]
        self.assertEqual(missing, [], "error codes without an exit status in man/sscardd.8.scd")

    def test_every_code_in_docs_cli(self):
        cli = (REPO / "docs/cli.md").read_text()
        missing = [c for c in error_codes() if f"`{c}`" not in cli]
        self.assertEqual(missing, [], "error codes not in docs/cli.md")


if __name__ == "__main__":
    unittest.main()
