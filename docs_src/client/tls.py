import ssl

from tempest_sdk.client import AsyncTempestClient

client = AsyncTempestClient(
    verify="/etc/ssl/corp-ca.pem", cert=("client.pem", "client.key")
)

# or a ready context, for anything else (pinning, TLS versions, ...)
context = ssl.create_default_context(cafile="/etc/ssl/corp-ca.pem")
context.load_cert_chain("client.pem", "client.key")
client = AsyncTempestClient(verify=context)
