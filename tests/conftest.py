"""Root conftest: fixture plugins shared by the whole test suite."""

pytest_plugins = [
    "tests.support.fake_openai",
]
