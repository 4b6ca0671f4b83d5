"""STS GetCallerIdentity and the IAM calls SDKs make (GetRole, SimulatePrincipalPolicy).

The emulator has one identity: a session of the role ``SageMakerRole`` in the configured
account, so an STS client pointed at the gateway sees ``arn:aws:iam::<account>:role/SageMakerRole``.
(``sagemaker.get_execution_role()`` would resolve to it too, but the SDK sends that STS call to AWS's
URL explicitly, so outside a test harness that patches it it fails: README "Roles".)
Roles are never enforced (jobs run with the S3 stand-in's keys); every role name resolves, and
every simulated action is allowed. That is what lets unmodified code that passes any role ARN run.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from typing import Any

from emulator.config import Settings
from emulator.handler_spec import OperationTable, in_thread

ROLE_NAME = "SageMakerRole"
SESSION_NAME = "smlocal"
_STARTED = time.time()

_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}


def _unique_id(prefix: str, seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest().upper()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return prefix + "".join(alphabet[int(c, 16) % 32] for c in digest[:17])


class IdentityOps:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def sts_operations(self) -> OperationTable:
        return {"GetCallerIdentity": in_thread(self.get_caller_identity)}

    def iam_operations(self) -> OperationTable:
        return {"GetRole": in_thread(self.get_role),
                "SimulatePrincipalPolicy": in_thread(self.simulate_principal_policy)}

    @property
    def account(self) -> str:
        return self.settings.account_id

    def role_arn(self, name: str = ROLE_NAME, path: str = "/") -> str:
        return f"arn:aws:iam::{self.account}:role{path}{name}"

    # --- STS ---------------------------------------------------------------------------------------
    def get_caller_identity(self, params: dict[str, Any]) -> dict[str, Any]:
        role_id = _unique_id("AROA", f"{self.account}/{ROLE_NAME}")
        return {
            "UserId": f"{role_id}:{SESSION_NAME}",
            "Account": self.account,
            "Arn": f"arn:aws:sts::{self.account}:assumed-role/{ROLE_NAME}/{SESSION_NAME}",
        }

    # --- IAM ---------------------------------------------------------------------------------------
    def get_role(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["RoleName"]
        return {"Role": {
            "Path": "/",
            "RoleName": name,
            "RoleId": _unique_id("AROA", f"{self.account}/{name}"),
            "Arn": self.role_arn(name),
            "CreateDate": _STARTED,
            "AssumeRolePolicyDocument": urllib.parse.quote(json.dumps(_TRUST_POLICY)),
            "Description": "Execution role of the local SageMaker emulator (never enforced).",
            "MaxSessionDuration": 3600,
        }}

    def simulate_principal_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        resources = params.get("ResourceArns") or ["*"]
        return {
            "EvaluationResults": [
                {"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": "allowed",
                 "MatchedStatements": [], "MissingContextValues": []}
                for action in params["ActionNames"] for resource in resources
            ],
            "IsTruncated": False,
        }
