"""Root conftest: fixture plugins shared by the whole test suite."""

pytest_plugins = [
    "tests.support.fake_openai_fixtures",
    "tests.support.fixtures_cluster",
    # after fixtures_cluster, which it imports
    "tests.support.fixtures_node",
    "tests.support.fixtures_pg",
    # after fixtures_pg, which it imports
    "tests.support.chat_app",
    # which tests share one worker under -n (make test)
    "tests.support.xdist_groups",
]
