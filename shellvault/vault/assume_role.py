from __future__ import annotations

import sys
import time

from shellvault.credentials import Credentials
from shellvault.durations import ROLE_CHAINING_LIMIT
from shellvault.prompt import MfaCodes
from shellvault.vault import Provider, sts
from shellvault.vault.plan import RoleStep


class AssumeRole:
    """AssumeRole for one role profile, from the credentials its source provider gives."""

    def __init__(self, source: Provider, step: RoleStep, mfa: MfaCodes, root: str) -> None:
        self.source = source
        self.step = step
        self.mfa = mfa
        self.root = root  # the profile whose stored key the chain starts from

    def retrieve(self) -> Credentials:
        step = self.step
        source = self.source.retrieve()
        if step.capped_from is not None:
            # Said at mint time only, not on every cache hit.
            print(
                f"shellvault: profile {step.profile} asks for {step.capped_from // 60}m but is "
                f"assumed with temporary credentials (role chaining), which AWS caps at "
                f"{ROLE_CHAINING_LIMIT // 60}m; using {step.duration // 60}m",
                file=sys.stderr,
            )
        client = sts.client(source, step.sts, step.profile)
        params: dict[str, object] = {
            "RoleArn": step.role_arn,
            # Unique per mint unless configured, as botocore does.
            "RoleSessionName": step.role_session_name or f"shellvault-{int(time.time())}",
            "DurationSeconds": step.duration,
        }
        if step.external_id:
            params["ExternalId"] = step.external_id
        if step.source_identity:
            params["SourceIdentity"] = step.source_identity
        if step.session_tags:
            params["Tags"] = [{"Key": k, "Value": v} for k, v in step.session_tags]
        if step.transitive_session_tags:
            params["TransitiveTagKeys"] = list(step.transitive_session_tags)
        if step.mfa_serial:
            params["SerialNumber"] = step.mfa_serial
            params["TokenCode"] = self.mfa.code_for(step.mfa_serial, step.profile)
        answer = sts.call(
            "AssumeRole",
            step.profile,
            step.sts,
            lambda: client.assume_role(**params),
            key_owner=None if source.is_temporary else self.root,
        )
        return Credentials.from_sts(answer["Credentials"])
