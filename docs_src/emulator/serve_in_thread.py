from tempest_sdk.emulator import Emulator

emulator = Emulator()
with emulator.serve_in_thread():
    print(emulator.url)  # http://127.0.0.1:54321/api/v1
    print(emulator.token)  # emu-…, a random token unless you pass token=
    client = emulator.client()  # an AsyncTempestClient set up for it
