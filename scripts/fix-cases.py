"""Writes fixtures/fix-cases/<case>/: a tiny failing repository (repo/), its CI log
(fail.log), the fix-agent policy with its validation command (policy.yml), and one recorded
answer per provider shape (answers/openai.json, answers/anthropic.json).

The recorded answers are written by hand in each API's documented response shape (they are
NOT captured from a live model); their `usage` token counts are placeholders (1800 in / 90
out, Anthropic shape 2025 / 100), not measurements. Run: python3 scripts/fix-cases.py
"""
import json
import os
import shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "fix-cases")
T = "2026-12-07T10:00:00.1000000Z "


def log(lines):
    return "".join(T + l + "\n" for l in lines.strip("\n").split("\n"))


def case(name, files, log_lines, validation, allow, fix, summary, tokens=(1800, 90)):
    d = os.path.join(ROOT, name)
    if os.path.isdir(os.path.join(d, "repo")):
        shutil.rmtree(os.path.join(d, "repo"))
    os.makedirs(os.path.join(d, "answers"), exist_ok=True)
    for rel, text in files.items():
        p = os.path.join(d, "repo", rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
    with open(os.path.join(d, "fail.log"), "w") as f:
        f.write(log(log_lines))
    with open(os.path.join(d, "policy.yml"), "w") as f:
        f.write("fix-agent:\n")
        f.write("  allow: [%s]\n" % ", ".join(json.dumps(a) for a in allow))
        f.write("  validation:\n")
        f.write("    command: [%s]\n" % ", ".join(json.dumps(c) for c in validation))
        f.write("    pass-failed-tests: false\n    timeout: 30s\n")
    answer = {"instructions": [{"summary": summary, "edits": fix}]}
    oa = {"id": "chatcmpl-" + name, "object": "chat.completion", "created": 1765100000,
          "model": "gpt-4o-mini-2024-07-18",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(answer), "refusal": None},
                       "finish_reason": "stop"}],
          "usage": {"prompt_tokens": tokens[0], "completion_tokens": tokens[1],
                    "total_tokens": tokens[0] + tokens[1]}}
    an = {"id": "msg_" + name, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
          "content": [{"type": "tool_use", "id": "toolu_" + name, "name": "propose_fix", "input": answer}],
          "stop_reason": "tool_use", "stop_sequence": None,
          "usage": {"input_tokens": tokens[0] + tokens[0] // 8, "output_tokens": tokens[1] + 10}}
    for shape, body in (("openai", oa), ("anthropic", an)):
        with open(os.path.join(d, "answers", shape + ".json"), "w") as f:
            json.dump(body, f, indent=2)
            f.write("\n")


def rep(path, find, replace):
    return {"op": "replace", "path": path, "find": find, "replace": replace}


UNITTEST = ["python3", "-B", "-m", "unittest", "-q"]

case("py-renamed-function", {
    "calc.py": '"""Arithmetic helpers."""\n\n\ndef add_numbers(a, b):\n    """Returns a + b (renamed from `add` in the last release)."""\n    return a + b\n',
    "app.py": '"""The app: totals a list of prices."""\nimport calc\n\n\ndef total(prices):\n    result = 0\n    for p in prices:\n        result = calc.add(result, p)\n    return result\n',
    "test_app.py": 'import unittest\n\nimport app\n\n\nclass TotalTest(unittest.TestCase):\n    def test_total(self):\n        self.assertEqual(app.total([1, 2, 3]), 6)\n\n\nif __name__ == "__main__":\n    unittest.main()\n',
}, """
##[group]Run python3 -m unittest -q
E
======================================================================
ERROR: test_total (test_app.TotalTest.test_total)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/home/runner/work/shop/shop/test_app.py", line 8, in test_total
    self.assertEqual(app.total([1, 2, 3]), 6)
  File "/home/runner/work/shop/shop/app.py", line 8, in total
    result = calc.add(result, p)
             ^^^^^^^^
AttributeError: module 'calc' has no attribute 'add'
----------------------------------------------------------------------
Ran 1 test in 0.001s
FAILED (errors=1)
##[error]Process completed with exit code 1.
""", UNITTEST, ["*.py"],
    [rep("app.py", "calc.add(result, p)", "calc.add_numbers(result, p)")],
    "calc.add was renamed to calc.add_numbers: call the new name")

case("py-import-case", {
    "shop/__init__.py": "",
    "shop/pricing.py": 'def with_tax(amount):\n    return round(amount * 1.2, 2)\n',
    "shop/cart.py": 'from shop.Pricing import with_tax\n\n\ndef checkout(amounts):\n    return with_tax(sum(amounts))\n',
    "test_cart.py": 'import unittest\n\nfrom shop.cart import checkout\n\n\nclass CartTest(unittest.TestCase):\n    def test_checkout(self):\n        self.assertEqual(checkout([10, 5]), 18.0)\n',
}, """
##[group]Run python3 -m unittest -q
E
======================================================================
ERROR: test_cart (unittest.loader._FailedTest.test_cart)
----------------------------------------------------------------------
ImportError: Failed to import test module: test_cart
Traceback (most recent call last):
  File "/home/runner/work/shop/shop/test_cart.py", line 3, in <module>
    from shop.cart import checkout
  File "/home/runner/work/shop/shop/shop/cart.py", line 1, in <module>
    from shop.Pricing import with_tax
ModuleNotFoundError: No module named 'shop.Pricing'
----------------------------------------------------------------------
Ran 1 test in 0.000s
FAILED (errors=1)
##[error]Process completed with exit code 1.
""", UNITTEST, ["**/*.py", "*.py"],
    [rep("shop/cart.py", "from shop.Pricing import", "from shop.pricing import")],
    "the module is shop/pricing.py (lower case); Linux imports are case-sensitive")

case("py-stale-assertion", {
    "greet.py": 'def greeting(name):\n    # Intended change (#412): a comma after Hello.\n    return f"Hello, {name}!"\n',
    "test_greet.py": 'import unittest\n\nfrom greet import greeting\n\n\nclass GreetTest(unittest.TestCase):\n    def test_greeting(self):\n        self.assertEqual(greeting("Ada"), "Hello Ada!")\n',
}, """
##[group]Run python3 -m unittest -q
F
======================================================================
FAIL: test_greeting (test_greet.GreetTest.test_greeting)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/home/runner/work/greet/greet/test_greet.py", line 8, in test_greeting
    self.assertEqual(greeting("Ada"), "Hello Ada!")
AssertionError: 'Hello, Ada!' != 'Hello Ada!'
- Hello, Ada!
?      -
+ Hello Ada!
----------------------------------------------------------------------
Ran 1 test in 0.000s
FAILED (failures=1)
##[error]Process completed with exit code 1.
""", UNITTEST, ["*.py"],
    [rep("test_greet.py", '"Hello Ada!"', '"Hello, Ada!"')],
    "greet.py intentionally added a comma (#412); the test still expects the old text")

case("py-missing-dependency", {
    "requirements.txt": "requests==2.32.3\n",
    "app/__init__.py": "",
    "app/config.py": 'import yaml\nimport requests\n\n\ndef load(text):\n    return yaml.safe_load(text)\n',
    "tools/check_deps.py": '"""Fails when a third-party import is not pinned in requirements.txt (like deptry)."""\nimport ast, pathlib, sys\n\nSTDLIB = set(sys.stdlib_module_names) | {"app", "tools"}\nALIAS = {"yaml": "pyyaml"}\npinned = {l.split("==")[0].strip().lower() for l in pathlib.Path("requirements.txt").read_text().splitlines() if l.strip()}\nmissing = []\nfor f in sorted(pathlib.Path("app").rglob("*.py")):\n    for node in ast.walk(ast.parse(f.read_text())):\n        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module] if isinstance(node, ast.ImportFrom) and node.module else []\n        for n in names:\n            top = n.split(".")[0]\n            if top not in STDLIB and ALIAS.get(top, top).lower() not in pinned:\n                missing.append(f"{f}: {top} (install name {ALIAS.get(top, top)}) is imported but not in requirements.txt")\nfor m in missing:\n    print("DEP001", m)\nsys.exit(1 if missing else 0)\n',
}, """
##[group]Run python3 tools/check_deps.py
DEP001 app/config.py: yaml (install name pyyaml) is imported but not in requirements.txt
##[error]Process completed with exit code 1.
""", ["python3", "-B", "tools/check_deps.py"], ["requirements.txt"],
    [rep("requirements.txt", "requests==2.32.3\n", "pyyaml==6.0.2\nrequests==2.32.3\n")],
    "app/config.py imports yaml: pin pyyaml in requirements.txt")

case("py-lint-unused-import", {
    "report.py": 'import os\nimport json\n\n\ndef render(rows):\n    return json.dumps(rows, indent=2)\n',
    "tools/lint.py": '"""F401: an imported name that is never used (the pyflakes rule)."""\nimport ast, pathlib, sys\n\nbad = 0\nfor f in sorted(pathlib.Path(".").glob("*.py")):\n    tree = ast.parse(f.read_text())\n    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}\n    for node in tree.body:\n        if isinstance(node, ast.Import):\n            for a in node.names:\n                if (a.asname or a.name) not in used:\n                    print(f"{f}:{node.lineno}:1: F401 \'{a.name}\' imported but unused")\n                    bad += 1\nsys.exit(1 if bad else 0)\n',
}, """
##[group]Run python3 tools/lint.py
report.py:1:1: F401 'os' imported but unused
##[error]Process completed with exit code 1.
""", ["python3", "-B", "tools/lint.py"], ["*.py"],
    [rep("report.py", "import os\nimport json\n", "import json\n")],
    "remove the unused import os (F401)")

case("js-type-error", {
    "cart.js": "function names(cart) {\n  return cart.items.map((i) => i.name);\n}\n\nmodule.exports = { names };\n",
    "test.js": "const assert = require('assert');\nconst { names } = require('./cart');\n\nconst cart = { items: { a: { name: 'apple' }, b: { name: 'bread' } } };\nassert.deepStrictEqual(names(cart), ['apple', 'bread']);\nconsole.log('ok');\n",
}, """
##[group]Run node test.js
/home/runner/work/cart/cart/cart.js:2
  return cart.items.map((i) => i.name);
                    ^

TypeError: cart.items.map is not a function
    at names (/home/runner/work/cart/cart/cart.js:2:21)
    at Object.<anonymous> (/home/runner/work/cart/cart/test.js:5:18)
Node.js v20.18.0
##[error]Process completed with exit code 1.
""", ["node", "test.js"], ["cart.js"],
    [rep("cart.js", "cart.items.map(", "Object.values(cart.items).map(")],
    "cart.items is an object keyed by id: map over its values")

case("dockerignore-data-file", {
    ".dockerignore": "node_modules\ndata/\n*.log\n",
    "data/prices.json": '{"apple": 1.2}\n',
    "Dockerfile": "FROM python:3.12-slim\nCOPY . /app\nCOPY data/prices.json /app/data/prices.json\nCMD [\"python3\", \"/app/main.py\"]\n",
    "tools/check_context.py": '"""Fails when a file the Dockerfile COPYs is excluded by .dockerignore (what `docker build` reports)."""\nimport fnmatch, pathlib, sys\n\nrules = [l.strip() for l in pathlib.Path(".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")]\n\ndef excluded(path):\n    out = False\n    for r in rules:\n        neg = r.startswith("!")\n        pat = r[1:] if neg else r\n        pat = pat.rstrip("/")\n        if fnmatch.fnmatch(path, pat) or path.startswith(pat + "/"):\n            out = not neg\n    return out\n\nbad = 0\nfor line in pathlib.Path("Dockerfile").read_text().splitlines():\n    parts = line.split()\n    if parts[:1] == ["COPY"] and parts[1] != ".":\n        if excluded(parts[1]):\n            print(f\'ERROR: failed to calculate checksum of ref: "/{parts[1]}": not found (excluded by .dockerignore)\')\n            bad += 1\nsys.exit(1 if bad else 0)\n',
}, """
##[group]Run docker build .
#7 [3/3] COPY data/prices.json /app/data/prices.json
#7 ERROR: failed to calculate checksum of ref 4b1c: "/data/prices.json": not found
Dockerfile:3
--------------------
   1 |     FROM python:3.12-slim
   2 |     COPY . /app
   3 | >>> COPY data/prices.json /app/data/prices.json
ERROR: failed to solve: failed to compute cache key: failed to calculate checksum of ref 4b1c: "/data/prices.json": not found
##[error]Process completed with exit code 1.
""", ["python3", "-B", "tools/check_context.py"], [".dockerignore"],
    [rep(".dockerignore", "data/\n", "data/\n!data/prices.json\n")],
    "data/prices.json is COPYed but .dockerignore excludes data/: add an exception")

case("py-wrong-config-key", {
    "config.json": '{\n  "retries": 3,\n  "time_out": 30\n}\n',
    "client.py": 'import json\n\n\ndef settings():\n    with open("config.json") as f:\n        cfg = json.load(f)\n    return cfg["retries"], cfg["timeout"]\n',
    "test_client.py": 'import unittest\n\nimport client\n\n\nclass SettingsTest(unittest.TestCase):\n    def test_settings(self):\n        self.assertEqual(client.settings(), (3, 30))\n',
}, """
##[group]Run python3 -m unittest -q
E
======================================================================
ERROR: test_settings (test_client.SettingsTest.test_settings)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/home/runner/work/svc/svc/test_client.py", line 8, in test_settings
    self.assertEqual(client.settings(), (3, 30))
  File "/home/runner/work/svc/svc/client.py", line 7, in settings
    return cfg["retries"], cfg["timeout"]
                           ~~~^^^^^^^^^^^
KeyError: 'timeout'
----------------------------------------------------------------------
Ran 1 test in 0.001s
FAILED (errors=1)
##[error]Process completed with exit code 1.
""", UNITTEST, ["config.json"],
    [rep("config.json", '"time_out": 30', '"timeout": 30')],
    "client.py reads `timeout`; config.json spells it `time_out`")

case("js-test-timeout", {
    "slow.js": "function fetchReport() {\n  return new Promise((resolve) => setTimeout(() => resolve('report'), 300));\n}\n\nmodule.exports = { fetchReport };\n",
    "test.js": "const assert = require('assert');\nconst { fetchReport } = require('./slow');\n\nconst TIMEOUT_MS = 100;\n\nconst timer = setTimeout(() => {\n  console.error(`Error: Timeout of ${TIMEOUT_MS}ms exceeded in test \"fetches the report\"`);\n  process.exit(1);\n}, TIMEOUT_MS);\n\nfetchReport().then((r) => {\n  clearTimeout(timer);\n  assert.strictEqual(r, 'report');\n  console.log('ok');\n});\n",
}, """
##[group]Run node test.js
Error: Timeout of 100ms exceeded in test "fetches the report" (/home/runner/work/rep/rep/test.js:4)
##[error]Process completed with exit code 1.
""", ["node", "test.js"], ["test.js"],
    [rep("test.js", "const TIMEOUT_MS = 100;", "const TIMEOUT_MS = 2000;")],
    "fetchReport takes about 300 ms; the 100 ms test timeout is too short")

case("rust-type-error", {
    "main.rs": "fn parse_port(text: &str) -> u16 {\n    text.trim().parse().unwrap_or(8080)\n}\n\nfn main() {\n    let port: u32 = parse_port(\" 9090 \");\n    assert_eq!(port, 9090);\n    println!(\"port {port}\");\n}\n",
    "check.sh": "#!/usr/bin/env bash\nset -euo pipefail\nout=$(mktemp -d)\ntrap 'rm -rf \"$out\"' EXIT\nrustc --edition 2021 -o \"$out/main\" main.rs\n\"$out/main\"\n",
}, """
##[group]Run bash check.sh
error[E0308]: mismatched types
 --> main.rs:6:21
  |
6 |     let port: u32 = parse_port(" 9090 ");
  |               ---   ^^^^^^^^^^^^^^^^^^^^ expected `u32`, found `u16`
  |               |
  |               expected due to this
error: aborting due to 1 previous error
For more information about this error, try `rustc --explain E0308`.
##[error]Process completed with exit code 1.
""", ["bash", "check.sh"], ["*.rs"],
    [rep("main.rs", "let port: u32 = parse_port", "let port: u16 = parse_port")],
    "parse_port returns u16: declare port as u16")
