"""A real SCIM 2.0 server shaped like Atlassian's user-provisioning API, for end-to-end tests.

It owns the Atlassian-shaped wrapper around scim2-server (pinned in requirements.txt): the
service is mounted under ``/scim/directory/<id>`` as Atlassian serves it, requests need the
bearer token, PATCH answers 200 with the resource (Atlassian does; stock scim2-server answers
204), and every user carries a faked ``urn:scim:schemas:extension:atlassian-external:1.0``
object, which is dropped from incoming POST and PUT bodies as Atlassian ignores it
(scim2-models cannot declare a schema URN ending in ``:1.0``). See
/work/shared/spec/local-scim-server.md for what it cannot imitate.

It binds 127.0.0.1 only, on the port given (0 picks a free one), serves https instead of
http when given a certificate and its key (``--tls-cert``, ``--tls-key``), and prints one line
``listening <base url>`` on stdout once it accepts connections, so that the test harness
never races for a port. The token comes from the environment (``SCIM_TOKEN``), never the
command line, so that it does not show in process listings. Stop it by its PID; with
``--exit-on-stdin-eof`` it also exits when its parent closes its stdin or dies, so that a
test run that is killed never leaves a server behind.
"""

import argparse
import hashlib
import json
import os
import ssl
import sys
import threading
from http import HTTPStatus
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.util import application_uri

from scim2_models import Context, NotFoundException
from scim2_server.applications.wsgi import send_response
from scim2_server.memory import InMemoryStorage
from scim2_server.responses import ScimResponse
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import load_default_provider

# Loopback only: the tests must never expose a server to the network.
LISTEN_HOST = "127.0.0.1"
ATLASSIAN_EXTENSION = "urn:scim:schemas:extension:atlassian-external:1.0"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


class AtlassianService(ScimService):
    """The SCIM service with Atlassian's answer to PATCH."""

    def patch_response(self, base_url, resource, response_parameters):
        # Atlassian answers a PATCH with 200 and the resource; the client's result uses it.
        return self.resource_response(
            self.publish(base_url, resource),
            Context.RESOURCE_REPLACEMENT_RESPONSE,
            response_parameters,
        )


def with_atlassian_extension(resource):
    """A user resource as Atlassian shows it: with the account-link extension."""
    if not isinstance(resource, dict) or USER_SCHEMA not in resource.get("schemas", []):
        return resource
    account_id = hashlib.sha1(str(resource.get("id", "")).encode()).hexdigest()
    resource[ATLASSIAN_EXTENSION] = {"atlassianAccountId": account_id}
    resource["schemas"] = [*resource["schemas"], ATLASSIAN_EXTENSION]
    return resource


def without_atlassian_extension(body):
    """An incoming user body with the extension removed, as Atlassian ignores it."""
    try:
        document = json.loads(body)
    except ValueError:
        return body  # the service answers the syntax error itself
    if not isinstance(document, dict) or ATLASSIAN_EXTENSION not in document:
        return body
    document.pop(ATLASSIAN_EXTENSION)
    if isinstance(document.get("schemas"), list):
        document["schemas"] = [s for s in document["schemas"] if s != ATLASSIAN_EXTENSION]
    return json.dumps(document).encode()


class AtlassianApplication(BearerTokenApplication):
    """One directory's application: bearer token, Atlassian's extension, no ``/v2``."""

    @staticmethod
    def get_base_url(environ):
        # Atlassian's resource locations have no version segment.
        return application_uri(environ).rstrip("/")

    def dispatch_request(self, request):
        if request.method in ("POST", "PUT") and request.body:
            request.body = without_atlassian_extension(request.body)
        return super().dispatch_request(request)

    def finalize_response(self, request, response):
        body = response.body
        if isinstance(body, dict):
            with_atlassian_extension(body)
            for resource in body.get("Resources", []) if isinstance(body.get("Resources"), list) else []:
                with_atlassian_extension(resource)
        return super().finalize_response(request, response)


class DirectoryMount:
    """Serves the application under ``/scim/directory/<id>`` and nothing else."""

    def __init__(self, directory_id, application, scheme):
        self.prefix = f"/scim/directory/{directory_id}"
        self.application = application
        self.scheme = scheme

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path != self.prefix and not path.startswith(self.prefix + "/"):
            error = NotFoundException(detail="Unknown directory").to_error()
            return send_response(ScimResponse(HTTPStatus.NOT_FOUND, error.model_dump()), start_response)
        # wsgiref does not know the socket is TLS; resource locations must say https.
        environ["wsgi.url_scheme"] = self.scheme
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + self.prefix
        environ["PATH_INFO"] = path[len(self.prefix):]
        return self.application(environ, start_response)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per request, so a slow client never blocks the others."""

    daemon_threads = True
    # socketserver's backlog of 5 resets connections when batches and workers connect at
    # once (local-scim-server.md).
    request_queue_size = 1024


class QuietHandler(WSGIRequestHandler):
    """Logs one line per request (method, path, status) to stderr, never a header."""

    def log_message(self, format, *args):
        sys.stderr.write("scim-server: " + (format % args) + "\n")


def exit_on_stdin_eof():
    """Exit as soon as stdin reaches its end: the parent closed it or died."""
    sys.stdin.buffer.read()
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--directory", required=True, help="the directory id in /scim/directory/<id>")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin closes (the parent is gone)")
    parser.add_argument("--tls-cert", help="serve https with this PEM certificate (needs --tls-key)")
    parser.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    arguments = parser.parse_args()
    token = os.environ.get("SCIM_TOKEN")
    if not token:
        parser.error("set SCIM_TOKEN to the bearer token the server accepts")

    provider = load_default_provider()
    provider.config.authentication_schemes = [*(provider.config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    application = AtlassianApplication(
        InMemoryStorage(), provider, service=AtlassianService(provider), bearer_tokens=[token]
    )
    if bool(arguments.tls_cert) != bool(arguments.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    scheme = "https" if arguments.tls_cert else "http"
    mounted = DirectoryMount(arguments.directory, application, scheme)
    if arguments.exit_on_stdin_eof:
        threading.Thread(target=exit_on_stdin_eof, daemon=True).start()
    with make_server(LISTEN_HOST, arguments.port, mounted, server_class=ThreadingWSGIServer, handler_class=QuietHandler) as server:
        if arguments.tls_cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(arguments.tls_cert, arguments.tls_key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        port = server.server_address[1]
        print(f"listening {scheme}://{LISTEN_HOST}:{port}/scim/directory/{arguments.directory}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
