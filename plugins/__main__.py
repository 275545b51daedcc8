"""`python -m plugins list [--json]`: every registered plugin, by group."""

from __future__ import annotations

import argparse
import json
import sys


def describe(as_json: bool) -> str:
    """The registry as text (group, name, parameters) or as JSON {group: [names]}."""
    from plugins import REGISTRY

    if as_json:
        return json.dumps({g: REGISTRY.names(g) for g in REGISTRY.groups()}, indent=2)
    lines = []
    for group in REGISTRY.groups():
        lines.append(f"{group}:")
        for name in REGISTRY.names(group):
            plugin = REGISTRY.get(group, name)
            params = ", ".join(f"{k}={v!r}" for k, v in plugin.parameters.items())
            lines.append(f"  {name}({params})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="print every registered plugin by group")
    listing.add_argument("--json", action="store_true", help="print {group: [names]} as JSON")
    manifest = sub.add_parser("manifest", help="print (or --write) plugins/manifest.json: every parameter's name")
    manifest.add_argument("--write", action="store_true", help="write plugins/manifest.json")
    manifest.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when an entry differs from its plugin's code or names a plugin that is gone (new plugins pass)",
    )
    args = parser.parse_args(argv)
    from plugins.registry import ConfigError
    from plugins.tf_startup import quiet_tensorflow

    quiet_tensorflow()  # the plugin modules import Keras: quietly, so that an error stays one line
    try:
        if args.command == "manifest":
            from plugins.manifest import MANIFEST, drift, text

            if args.check:
                lines = drift()
                for line in lines:
                    print(f"{line}: make manifest", file=sys.stderr)
                return 1 if lines else 0
            MANIFEST.write_text(text()) if args.write else sys.stdout.write(text())
            return 0
        print(describe(args.json))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
