import pytest

from shop.auth import InvalidToken, check_password, issue_token, verify_token

NOW = 1_700_000_000.0


def test_token_round_trips_the_username():
    token = issue_token("alice", "s3cret", now=NOW)
    assert verify_token(token, "s3cret", now=NOW + 10) == "alice"


def test_token_signed_with_another_secret_is_rejected():
    token = issue_token("alice", "s3cret", now=NOW)
    with pytest.raises(InvalidToken, match="bad signature"):
        verify_token(token, "other", now=NOW)


def test_expired_token_is_rejected():
    token = issue_token("alice", "s3cret", now=NOW, ttl=60)
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(token, "s3cret", now=NOW + 60)


@pytest.mark.parametrize("token", ["", "no-dot", ".sig", "body."])
def test_malformed_token_is_rejected(token):
    with pytest.raises(InvalidToken):
        verify_token(token, "s3cret", now=NOW)


def test_check_password():
    users = {"alice": "wonderland"}
    assert check_password(users, "alice", "wonderland")
    assert not check_password(users, "alice", "looking-glass")
    assert not check_password(users, "mallory", "wonderland")
