"""Errors the toolkit reports. ClientError: the user's input or code is wrong (the failure file says
why). Anything else is a framework error."""

from __future__ import annotations


class ClientError(Exception):
    """Bad input or user code: reported in /opt/ml/output/failure, exit code 1."""


class ExecuteUserScriptError(ClientError):
    """The user's entry point exited non-zero."""

    def __init__(self, cmd: list[str] | str, return_code: int, output: str = "") -> None:
        self.cmd, self.return_code, self.output = cmd, return_code, output
        command = cmd if isinstance(cmd, str) else " ".join(cmd)
        # AWS's toolkit always names ErrorMessage, empty when the framework does not capture stderr.
        super().__init__(f"ExecuteUserScriptError:\nExitCode {return_code}\nErrorMessage \"{output.strip()}\"\n"
                         f"Command \"{command}\"")


class LegacyExecuteUserScriptError(ExecuteUserScriptError):
    """The same failure as sagemaker-containers (the legacy toolkit in the XGBoost image) words it."""

    def __init__(self, cmd: list[str] | str, return_code: int, output: str = "") -> None:
        self.cmd, self.return_code, self.output = cmd, return_code, output
        text = f"ExecuteUserScriptError:\nCommand \"{cmd if isinstance(cmd, str) else ' '.join(cmd)}\""
        if output:
            text += f"\n{output}"
        ClientError.__init__(self, text.strip())
