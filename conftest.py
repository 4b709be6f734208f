"""Root conftest: loads the shared fixture modules (one per concern) for every test directory."""

pytest_plugins = [
    "tests.fixtures.environment",
    "tests.fixtures.database",
    "tests.fixtures.simulator",
    "tests.fixtures.llama",
    "tests.fixtures.disk",
    "tests.fixtures.hostile",
]
