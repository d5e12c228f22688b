#!/usr/bin/python3
"""Renders every template in tests/data/chat/templates with every conversation in
tests/data/chat/conversations.json using Python's jinja2 configured as transformers'
apply_chat_template configures it, and writes tests/data/chat/goldens.json.

Run with Debian's python3 (python3-jinja2):  /usr/bin/python3 tests/tools/make_template_goldens.py
"""
import datetime, json, pathlib
import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

root = pathlib.Path(__file__).resolve().parents[1] / "data" / "chat"


class TemplateRaised(Exception):
    pass


def raise_exception(message):
    raise TemplateRaised(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' tojson filter (chat_template_utils.py)
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


FIXED_NOW = datetime.datetime(2026, 11, 25, 12, 0, 0)


def strftime_now(fmt):
    # A fixed day so that goldens are reproducible (gpt-oss's template always asks for
    # today); the C++ test puts its own today in place of this one's before comparing.
    return FIXED_NOW.strftime(fmt)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    index = json.loads((root / "templates" / "index.json").read_text())
    conversations = json.loads((root / "conversations.json").read_text())
    env = make_env()
    out = {"generator": "tests/tools/make_template_goldens.py (jinja2 " + jinja2.__version__ + ")", "cases": []}
    for name, info in index.items():
        source = (root / "templates" / f"{name}.jinja").read_text()
        template = env.from_string(source)
        for conv in conversations:
            for agp in (False, True):
                kwargs = dict(info["special_tokens"])
                kwargs.update(messages=conv["messages"], tools=conv.get("tools"), documents=None,
                              add_generation_prompt=agp)
                kwargs["date_string"] = "25 Nov 2026"  # fixed: templates otherwise ask strftime_now for today
                kwargs.update(conv.get("extra", {}))
                case = {"template": name, "conversation": conv["name"], "add_generation_prompt": agp}
                try:
                    case["output"] = template.render(**kwargs)
                except TemplateRaised as e:
                    case["raises"] = str(e)
                except Exception as e:  # the template itself fails (e.g. a field it needs is missing)
                    case["error"] = type(e).__name__ + ": " + str(e)
                out["cases"].append(case)
    (root / "goldens.json").write_text(json.dumps(out, ensure_ascii=False, indent=0) + "\n")
    print(f"{len(out['cases'])} cases")


main()
