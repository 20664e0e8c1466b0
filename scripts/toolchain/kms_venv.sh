#!/usr/bin/env bash
# The KMS stand-in's venv (.venv-kms): LocalStack's community core from PyPI, which the tests
# start on loopback (ballast_dev/local/kms_local.py) as the AWS KMS the aws-kms signer talks to.
# Why LocalStack and not moto: moto (5.2.5, the newest on PyPI, and LocalStack's fork moto-ext)
# ignores Sign's MessageType and SHA-256-hashes a DIGEST again, so its signatures are of another
# message; LocalStack's own KMS provider signs a DIGEST as AWS does (cryptography's Prehashed).
# Apart from .venv: its runtime pins boto3/botocore and a server stack that are not the keepers'.
# Pins: localstack-core 4.12.0 (4.14.0 and 2026.x use Python 3.12 syntax in the KMS provider,
# and this project runs on 3.11), cbor2 < 6 (4.12 imports cbor2._decoder), pyOpenSSL 24.2.1
# (its self-signed gateway certificate uses X509.add_extensions, gone in later releases).
# Made by `make test` before the suite (about 10 s once with uv); a second run checks and skips.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-kms
if ! "$venv/bin/python" -c "import localstack.services.kms.provider" 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  bash scripts/toolchain/install_python.sh "$venv" 'localstack-core[base-runtime]==4.12.0' \
    cbor2==5.9.0 pyopenssl==24.2.1
fi
