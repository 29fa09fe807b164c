"""The command line of `gateway browse`, apart from the browsing itself: `gateway` builds its
parser for every run, and the browser (asyncua, ~24 MB) is imported only when it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.collectors.opcua.models import MODES, POLICIES, OpcuaDevice

PASSWORD_ENV = "OPCUA_PASSWORD"
DEFAULT_STATE_DIR: str = OpcuaDevice.model_fields["state_dir"].default
HELP = "walk an OPC UA server and print a tag map of its variables"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("endpoint", metavar="opc.tcp://HOST:PORT[/PATH]", help="the server")
    parser.add_argument(
        "--node", default=None, metavar="ID", help="start node (default: the Objects folder)"
    )
    parser.add_argument(
        "--depth", type=int, default=10, metavar="N", help="levels below the start node (10)"
    )
    parser.add_argument("--security-policy", choices=POLICIES, default=None)
    parser.add_argument(
        "--security-mode",
        choices=MODES,
        default=None,
        help="default: SignAndEncrypt with a policy, None without",
    )
    parser.add_argument("--username", default=None, help="default: anonymous")
    parser.add_argument(
        "--password-file",
        type=Path,
        default=None,
        metavar="F",
        help=f"file holding the password (default: ${PASSWORD_ENV})",
    )
    parser.add_argument(
        "--trust-server-cert",
        action="store_true",
        help="store the server's certificate in the trusted folder if it is not there yet",
    )
    parser.add_argument(
        "--state-dir",
        default=None,
        metavar="DIR",
        help=f"client certificate and trusted server certificates (default: {DEFAULT_STATE_DIR})",
    )
    parser.add_argument(
        "--trusted-certs",
        default=None,
        metavar="DIR",
        help="folder of trusted server certificates (default: <state-dir>/pki/trusted)",
    )
    parser.add_argument(
        "--device-name", default=None, metavar="NAME", help="default: from the host name"
    )
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S", help="per request")
    parser.add_argument(
        "-o", "--output", type=Path, default=None, metavar="FILE", help="default: stdout"
    )
