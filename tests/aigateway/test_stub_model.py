import subprocess
import sys
import time

import pytest
import requests

from tests.live import LiveServer


@pytest.fixture
def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_stub_runs_as_a_module_for_the_demo(free_port):
    process = subprocess.Popen(
        [sys.executable, "-m", "aigateway.stub", "--port", str(free_port)],
        stdout=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{free_port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{url}/_stub/received", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the stub did not start"
                time.sleep(0.1)

        answer = requests.post(
            f"{url}/v1/chat/completions",
            json={
                "model": "stub-echo",
                "messages": [{"role": "user", "content": "Привет, [ИМЯ_1]"}],
            },
            timeout=5,
        ).json()
        received = requests.get(f"{url}/_stub/received", timeout=5).json()
        requests.post(f"{url}/_stub/reset", timeout=5)
        after_reset = requests.get(f"{url}/_stub/received", timeout=5).json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert answer["choices"][0]["message"]["content"] == "Привет, [ИМЯ_1]"
    assert received["received"][0]["body"]["model"] == "stub-echo"
    assert after_reset == {"received": []}


def test_the_stub_refuses_a_wrong_key_and_unknown_paths():
    from aigateway.stub import StubUpstream

    server = LiveServer(StubUpstream(api_key="right"))
    try:
        wrong = requests.post(
            f"{server.url}/v1/chat/completions",
            json={"model": "stub-echo", "messages": []},
            headers={"Authorization": "Bearer wrong"},
            timeout=5,
        )
        missing = requests.get(f"{server.url}/v1/models", timeout=5)
    finally:
        server.close()

    assert wrong.status_code == 401
    assert missing.status_code == 404
