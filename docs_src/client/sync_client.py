from tempest_sdk.client import TempestClient

with TempestClient() as client:
    resource = client.get_resource("res_01")
    print(resource.display_name, resource.properties)
