#!/usr/bin/env python3
"""Translates an AWS SAM template to plain CloudFormation offline and prints it as JSON.

Why: cfn-lint on a SAM template checks little more than the SAM schema, so values such as
`InvokeMode: STREAMING` or `Timeout: 5000` pass. Linting the CloudFormation that SAM
generates catches them (scripts/check-infra.sh runs `sam2cfn.py template.yaml | cfn-lint`).

Usage: sam2cfn.py TEMPLATE.yaml > template.json   (needs `aws-sam-translator`; no network,
no AWS credentials).
"""

import json
import os
import sys

# The translator resolves the pseudo-parameters (AWS::Region, partition) through boto3,
# which wants a region; any fixed one makes the output reproducible.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


class OfflinePolicyLoader:
    """Stands in for the managed-policy loader, which would list IAM policies over the
    network. It is only consulted for managed policies named without an ARN; our template
    names none, so an empty map is exact (a name would fail the translation loudly)."""

    def load(self):
        return {}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    try:
        # Parameter values are left unresolved (Ref stays Ref), as CloudFormation would
        # see them before a deploy supplies values.
        output = transform(template, {}, OfflinePolicyLoader())
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"{path}: SAM translation failed: {cause.message}", file=sys.stderr)
        return 1
    json.dump(output, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
