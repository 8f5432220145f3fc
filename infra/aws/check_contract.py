#!/usr/bin/env python3
"""Checks what the handler needs from the deployed stack, which no linter can know, on the
CloudFormation that infra/aws/sam2cfn.py prints (a file argument, or stdin):

- the function URL's InvokeMode and SPEECH_LAMBDA_STREAMING agree (a mismatch serves
  empty or garbled bodies);
- no in-process cleanup timer (SPEECH_CLEANUP_INTERVAL_HOURS=0), and an EventBridge rule
  that invokes the function on a schedule with the standard "Scheduled Event" (no Input,
  which would replace it), the event the handler routes to the cleanup;
- a public (AuthType NONE) URL has both permissions Lambda requires for it
  (lambda:InvokeFunctionUrl, and lambda:InvokeFunction via the URL), without which every
  call gets 403; SAM omits them when AuthType is not a literal;
- the role's own statements name only the stack's bucket (and, for SQS actions, its job
  queue): no wildcard action or resource, and the object ARNs cover the SPEECH_STORAGE
  prefix;
- long-form jobs: the API function and the job worker name the same SPEECH_JOB_QUEUE and
  SPEECH_STORAGE; the worker is buffered (the event source reads its answer as JSON), is
  invoked by an SQS event source on that queue reporting batch item failures, and the
  queue's visibility timeout is at least the worker's timeout and it has a dead-letter
  queue.

Exits 1 listing every violation, 0 when there is none.
"""

import json
import re
import sys


def resources_of(template, kind):
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == kind}


def refers_to(value, logical_id):
    """Whether an intrinsic (Ref, GetAtt, Sub) points at `logical_id`."""
    text = json.dumps(value)
    return re.search(r'"Ref": "%s"|"%s"|\$\{%s[.}]' % ((re.escape(logical_id),) * 3), text) is not None


def check(template):
    problems = []
    functions = resources_of(template, "AWS::Lambda::Function")
    mappings = resources_of(template, "AWS::Lambda::EventSourceMapping")
    workers = {
        fn_id: fn for fn_id, fn in functions.items()
        if any(refers_to(m["Properties"].get("FunctionName"), fn_id) for m in mappings.values())
    }
    api = {k: v for k, v in functions.items() if k not in workers}
    if len(api) != 1:
        return [f"expected one API function (no event source mapping), found {len(api)}"]
    (fn_id, fn), = api.items()
    props = fn.get("Properties", {})
    env = props.get("Environment", {}).get("Variables", {})

    if props.get("PackageType") != "Image":
        problems.append(f"{fn_id}: PackageType must be Image (the handler container image)")

    # Streaming flag and URL mode.
    urls = resources_of(template, "AWS::Lambda::Url")
    if len(urls) != 1:
        problems.append(f"expected one AWS::Lambda::Url, found {len(urls)}")
    for url_id, url in urls.items():
        url_props = url.get("Properties", {})
        streaming_url = url_props.get("InvokeMode") == "RESPONSE_STREAM"
        streaming_handler = str(env.get("SPEECH_LAMBDA_STREAMING", "")).lower() in ("true", "1")
        if streaming_url != streaming_handler:
            problems.append(
                f"{url_id}: InvokeMode {url_props.get('InvokeMode', 'BUFFERED')!r} but "
                f"SPEECH_LAMBDA_STREAMING={env.get('SPEECH_LAMBDA_STREAMING')!r}; they must agree"
            )
        if url_props.get("AuthType") == "NONE":
            permissions = resources_of(template, "AWS::Lambda::Permission").values()
            granted = {
                p["Properties"].get("Action")
                for p in permissions
                if p["Properties"].get("Principal") == "*"
                and (
                    p["Properties"].get("FunctionUrlAuthType") == "NONE"
                    or p["Properties"].get("InvokedViaFunctionUrl") is True
                )
            }
            for action in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"):
                if action not in granted:
                    problems.append(
                        f"{url_id}: AuthType NONE without the public {action} permission "
                        "(every call would get 403; is AuthType a literal?)"
                    )
        elif not isinstance(url_props.get("AuthType"), str):
            problems.append(f"{url_id}: AuthType must be a literal (SAM cannot add permissions for an intrinsic)")

    # Scheduled cleanup.
    if str(env.get("SPEECH_CLEANUP_INTERVAL_HOURS")) != "0":
        problems.append(f"{fn_id}: SPEECH_CLEANUP_INTERVAL_HOURS must be 0 (instances freeze between invocations)")
    scheduled = []
    for rule_id, rule in resources_of(template, "AWS::Events::Rule").items():
        rule_props = rule.get("Properties", {})
        if "ScheduleExpression" not in rule_props:
            continue
        for target in rule_props.get("Targets", []):
            if refers_to(target.get("Arn"), fn_id):
                scheduled.append(rule_id)
                for key in ("Input", "InputPath", "InputTransformer"):
                    if key in target:
                        problems.append(
                            f"{rule_id}: target has {key}, which replaces the \"Scheduled Event\" "
                            "the handler recognises as the cleanup"
                        )
    if not scheduled:
        problems.append(f"no scheduled AWS::Events::Rule invokes {fn_id} (the cleanup would never run)")

    problems += check_job_workers(template, env, workers, mappings)

    # Least privilege on the bucket.
    storage = json.dumps(env.get("SPEECH_STORAGE"))
    match = re.search(r"s3://\$\{(\w+)\}/([^\"]*)", storage)
    if not match:
        problems.append(f"{fn_id}: SPEECH_STORAGE must be s3://${{Bucket}}/<prefix>, got {storage}")
        return problems
    bucket_id, prefix = match.group(1), match.group(2).strip("/")
    queue_id = (env.get("SPEECH_JOB_QUEUE") or {}).get("Ref") if isinstance(env.get("SPEECH_JOB_QUEUE"), dict) else None
    for role_id, role in resources_of(template, "AWS::IAM::Role").items():
        for policy in role.get("Properties", {}).get("Policies", []):
            for statement in policy.get("PolicyDocument", {}).get("Statement", []):
                sid = statement.get("Sid", "?")
                actions = statement.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                if any("*" in a for a in actions):
                    problems.append(f"{role_id}/{sid}: wildcard action {actions}")
                resources = statement.get("Resource", [])
                resources = resources if isinstance(resources, list) else [resources]
                if actions and all(a.startswith("sqs:") for a in actions):
                    for resource in resources:
                        if resource == "*" or not refers_to(resource, queue_id):
                            problems.append(
                                f"{role_id}/{sid}: resource {json.dumps(resource)} is not the job queue {queue_id}"
                            )
                    continue
                for resource in resources:
                    if resource == "*" or not refers_to(resource, bucket_id):
                        problems.append(
                            f"{role_id}/{sid}: resource {json.dumps(resource)} is not the bucket {bucket_id}"
                        )
                    elif "Fn::Sub" in resource and f"/{prefix}/*" not in resource["Fn::Sub"]:
                        problems.append(
                            f"{role_id}/{sid}: object resource {resource['Fn::Sub']!r} "
                            f"does not cover the SPEECH_STORAGE prefix {prefix!r}"
                        )
    return problems


def check_job_workers(template, api_env, workers, mappings):
    """The job path: API function -> queue -> event source -> worker function."""
    problems = []
    queue = api_env.get("SPEECH_JOB_QUEUE")
    if not workers:
        if queue is not None:
            problems.append("SPEECH_JOB_QUEUE is set but no function is invoked by its queue")
        return problems
    queue_id = queue.get("Ref") if isinstance(queue, dict) else None
    queues = resources_of(template, "AWS::SQS::Queue")
    if queue_id not in queues:
        return problems + [f"SPEECH_JOB_QUEUE must be a Ref to the stack's queue, got {json.dumps(queue)}"]
    queue_props = queues[queue_id].get("Properties", {})
    if "RedrivePolicy" not in queue_props:
        problems.append(f"{queue_id}: no RedrivePolicy (a job that keeps failing would come back forever)")
    for worker_id, worker in workers.items():
        props = worker.get("Properties", {})
        env = props.get("Environment", {}).get("Variables", {})
        if env.get("SPEECH_JOB_QUEUE") != queue:
            problems.append(f"{worker_id}: SPEECH_JOB_QUEUE must equal the API function's")
        if env.get("SPEECH_STORAGE") != api_env.get("SPEECH_STORAGE"):
            problems.append(f"{worker_id}: SPEECH_STORAGE must equal the API function's")
        if str(env.get("SPEECH_LAMBDA_STREAMING", "false")).lower() in ("true", "1"):
            problems.append(f"{worker_id}: must be buffered (the event source reads its answer as JSON)")
        if str(env.get("SPEECH_CLEANUP_INTERVAL_HOURS")) != "0":
            problems.append(f"{worker_id}: SPEECH_CLEANUP_INTERVAL_HOURS must be 0")
        if int(queue_props.get("VisibilityTimeout", 30)) < int(props.get("Timeout", 3)):
            problems.append(
                f"{queue_id}: VisibilityTimeout {queue_props.get('VisibilityTimeout', 30)} is shorter "
                f"than {worker_id}'s Timeout {props.get('Timeout')} (a running job's message would come back)"
            )
        for mapping_id, mapping in mappings.items():
            m = mapping["Properties"]
            if not refers_to(m.get("FunctionName"), worker_id):
                continue
            if not refers_to(m.get("EventSourceArn"), queue_id):
                problems.append(f"{mapping_id}: must read {queue_id}")
            if "ReportBatchItemFailures" not in m.get("FunctionResponseTypes", []):
                problems.append(
                    f"{mapping_id}: without ReportBatchItemFailures a paused or held job's "
                    "message would be deleted with the batch"
                )
    return problems


def main():
    source = open(sys.argv[1], encoding="utf-8") if len(sys.argv) > 1 else sys.stdin
    problems = check(json.load(source))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
