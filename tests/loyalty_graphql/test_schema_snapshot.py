"""The committed schema files are the API contract: they must match the code."""

from loyalty_graphql import snapshot


def test_committed_schema_files_match_the_code() -> None:
    stale = snapshot.stale_files()
    assert not stale, f"{stale} out of date: run `loyalty api-schema --write` and commit"


def test_schema_files_describe_both_hosts() -> None:
    texts = snapshot.rendered()
    assert "partners: [PartnerInfo!]!" in texts["coalition.graphql"]
    assert "partner: Partner!" in texts["partner.graphql"]
