"""A local stand-in for the few GitHub REST endpoints ``llmops comment`` uses.

:class:`GitHubStub` is a :class:`http.server.ThreadingHTTPServer` on ``127.0.0.1`` (port 0)
that answers with GitHub's documented JSON shapes:

- ``GET /repos/{owner}/{repo}`` (a repository object),
- ``GET /repos/{owner}/{repo}/issues/{number}`` and ``.../pulls/{number}``,
- ``GET /repos/{owner}/{repo}/issues/{number}/comments`` (paginated: ``per_page`` and
  ``page`` query parameters, a ``Link`` header with ``next``/``last``/``prev``/``first``),
- ``POST /repos/{owner}/{repo}/issues/{number}/comments`` (201, the new comment),
- ``GET`` and ``PATCH /repos/{owner}/{repo}/issues/comments/{id}``,
- ``GET /repos/{owner}/{repo}/commits/{sha}`` (a minimal commit),
- ``POST /repos/{owner}/{repo}/statuses/{sha}`` (201, the new status),
- ``GET /repos/{owner}/{repo}/issues`` (``state``, ``labels``, ``sort``, ``direction``,
  paginated like the comments; pull requests are listed too, with a ``pull_request`` key,
  as GitHub does), ``POST /repos/{owner}/{repo}/issues`` (201, the new issue) and
  ``PATCH /repos/{owner}/{repo}/issues/{number}`` (``title``, ``body``, ``state``,
  ``state_reason``, ``labels``), for ``llmops issue``.

Every request is recorded (method, path, query, headers, JSON body). A request whose
``Authorization`` header is not ``token <TOKEN>`` or ``Bearer <TOKEN>`` gets 401 ``Bad
credentials``; ``forbid_writes=True`` answers every POST/PATCH with 403 ``Resource not
accessible by integration``, as GitHub does for the read-only token of a fork's pull
request. ``max_per_page`` caps the page size (GitHub's cap is 100).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DOCS = "https://docs.github.com/rest"
STATUS_STATES = ("error", "failure", "pending", "success")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    status: int = 0

    @property
    def line(self) -> str:
        query = ("?" + urllib.parse.urlencode(self.query)) if self.query else ""
        return f"{self.method} {self.path}{query} -> {self.status}"


@dataclass
class StubState:
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # issue number -> comments
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha -> statuses, oldest first
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> issue (not pull requests)
    requests: list[Recorded] = field(default_factory=list)
    bad_auth: list[str] = field(default_factory=list)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubStub:
    """The fake API; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, token: str, owner: str = "octo-org", repo: str = "octo-repo", *,
                 forbid_writes: bool = False, max_per_page: int = 100,
                 bot_login: str = "github-actions[bot]", pulls: tuple[int, ...] = (7,),
                 fail_with: int | None = None) -> None:
        self.token = token
        self.owner, self.repo = owner, repo
        self.forbid_writes = forbid_writes
        self.max_per_page = max_per_page
        self.bot_login = bot_login
        self.pulls = set(pulls)
        self.fail_with = fail_with  # answer every request with this status (e.g. 500)
        self.error_message = "Server Error"  # the message of fail_with answers
        self.pull_head_sha = "c" * 40  # what GET /pulls/{n} reports as head.sha
        self.state = StubState()
        self._ids = itertools.count(1_000_001)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> "GitHubStub":
        stub = self

        class Handler(_Handler):
            pass

        Handler.stub = stub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="github-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "GitHubStub":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the stub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def repo_url(self) -> str:
        return f"{self.base_url}/repos/{self.full_name}"

    # -- data -----------------------------------------------------------------------------------

    def user(self, login: str | None = None, kind: str | None = None) -> dict[str, Any]:
        login = login or self.bot_login
        kind = kind or ("Bot" if login.endswith("[bot]") else "User")
        uid = 41898282 if login == "github-actions[bot]" else 1000 + sum(map(ord, login))
        return {"login": login, "id": uid, "node_id": f"MDQ6VXNlcj{uid}", "type": kind, "site_admin": False,
                "avatar_url": f"https://avatars.example.invalid/u/{uid}",
                "url": f"{self.base_url}/users/{urllib.parse.quote(login)}",
                "html_url": f"https://github.example.invalid/{urllib.parse.quote(login)}"}

    def add_comment(self, number: int, body: str, login: str | None = None, kind: str | None = None,
                    created_at: str | None = None) -> dict[str, Any]:
        """Seed (or create) an issue comment; returns its JSON."""
        with self._lock:
            cid = next(self._ids)
            stamp = created_at or _now()
            comment = {
                "id": cid,
                "node_id": f"IC_kwDO{cid}",
                "url": f"{self.repo_url}/issues/comments/{cid}",
                "html_url": f"https://github.example.invalid/{self.full_name}/pull/{number}#issuecomment-{cid}",
                "issue_url": f"{self.repo_url}/issues/{number}",
                "body": body,
                "user": self.user(login, kind),
                "created_at": stamp,
                "updated_at": stamp,
                "author_association": "NONE" if login and not login.endswith("[bot]") else "CONTRIBUTOR",
                "performed_via_github_app": None,
            }
            self.state.comments.setdefault(number, []).append(comment)
            return comment

    def label(self, name: str) -> dict[str, Any]:
        lid = 5000 + sum(map(ord, name))
        return {"id": lid, "node_id": f"LA_kwDO{lid}", "url": f"{self.repo_url}/labels/{urllib.parse.quote(name)}",
                "name": name, "color": "ededed", "default": False, "description": None}

    def add_issue(self, title: str, body: str, labels: tuple[str, ...] = (), state: str = "open",
                  login: str | None = None) -> dict[str, Any]:
        """Seed (or create) an issue that is not a pull request; returns its JSON."""
        with self._lock:
            number = max([*self.pulls, *self.state.issues, 0]) + 1
            url = f"{self.repo_url}/issues/{number}"
            stamp = _now()
            issue = {"id": 9000 + number, "node_id": f"I_kwDO{number}", "url": url, "number": number,
                     "repository_url": self.repo_url, "comments_url": url + "/comments",
                     "labels_url": url + "/labels{/name}", "events_url": url + "/events",
                     "html_url": f"https://github.example.invalid/{self.full_name}/issues/{number}",
                     "title": title, "body": body, "state": state, "state_reason": None, "locked": False,
                     "user": self.user(login), "labels": [self.label(n) for n in labels], "assignee": None,
                     "assignees": [], "milestone": None, "comments": 0, "created_at": stamp, "updated_at": stamp,
                     "closed_at": None, "author_association": "NONE"}
            self.state.issues[number] = issue
            return issue

    def issues(self) -> list[dict[str, Any]]:
        return [dict(i) for i in self.state.issues.values()]

    def comments(self, number: int = 7) -> list[dict[str, Any]]:
        return list(self.state.comments.get(number, []))

    def statuses(self, sha: str) -> list[dict[str, Any]]:
        return list(self.state.statuses.get(sha, []))

    @property
    def requests(self) -> list[Recorded]:
        return list(self.state.requests)

    def request_lines(self) -> list[str]:
        return [r.line for r in self.state.requests]

    def repository(self) -> dict[str, Any]:
        owner = self.user(self.owner, "Organization")
        url = self.repo_url
        return {"id": 123456, "node_id": "R_kgDOAAAAAQ", "name": self.repo, "full_name": self.full_name,
                "private": False, "owner": owner, "html_url": f"https://github.example.invalid/{self.full_name}",
                "description": "a stub repository", "fork": False, "url": url,
                "issues_url": url + "/issues{/number}", "pulls_url": url + "/pulls{/number}",
                "statuses_url": url + "/statuses/{sha}", "commits_url": url + "/commits{/sha}",
                "issue_comment_url": url + "/issues/comments{/number}", "default_branch": "main",
                "permissions": {"admin": False, "push": not self.forbid_writes, "pull": True}}

    def issue(self, number: int) -> dict[str, Any]:
        url = f"{self.repo_url}/issues/{number}"
        return {"id": 9000 + number, "node_id": f"PR_kwDO{number}", "url": url, "number": number,
                "repository_url": self.repo_url, "comments_url": url + "/comments",
                "html_url": f"https://github.example.invalid/{self.full_name}/pull/{number}",
                "title": "a pull request", "state": "open", "user": self.user("octo-dev", "User"),
                "comments": len(self.state.comments.get(number, [])), "body": "",
                "pull_request": {"url": f"{self.repo_url}/pulls/{number}"}}


class _Handler(BaseHTTPRequestHandler):
    stub: GitHubStub
    server_version = "GitHubStub/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    # -- plumbing ---------------------------------------------------------------------------------

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._record.status = status  # before the client can see the answer
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.send_header("X-RateLimit-Limit", "5000")
        self.send_header("X-RateLimit-Remaining", "4999")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"message": message, "documentation_url": DOCS, "status": str(status)})

    def _handle(self, method: str) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        stub = self.stub
        self._record = Recorded(method, parsed.path, query, dict(self.headers.items()), body)
        with stub._lock:
            stub.state.requests.append(self._record)
        auth = self.headers.get("Authorization") or ""
        if auth not in (f"token {stub.token}", f"Bearer {stub.token}"):
            stub.state.bad_auth.append(auth)
            return self._error(401, "Bad credentials")
        if stub.fail_with:
            return self._error(stub.fail_with, stub.error_message)
        prefix = f"/repos/{stub.full_name}"
        path = parsed.path.rstrip("/")
        if not path.startswith("/repos/"):
            return self._error(404, "Not Found")
        if path != prefix and not path.startswith(prefix + "/"):
            return self._error(404, "Not Found")
        rest = path[len(prefix):]
        if method in ("POST", "PATCH") and stub.forbid_writes:
            return self._error(403, "Resource not accessible by integration")
        routes = [
            ("GET", r"", self._get_repo),
            ("GET", r"/issues", self._list_issues),
            ("POST", r"/issues", self._create_issue),
            ("GET", r"/issues/(\d+)", self._get_issue),
            ("PATCH", r"/issues/(\d+)", self._edit_issue),
            ("GET", r"/pulls/(\d+)", self._get_pull),
            ("GET", r"/issues/(\d+)/comments", self._list_comments),
            ("POST", r"/issues/(\d+)/comments", self._create_comment),
            ("GET", r"/issues/comments/(\d+)", self._get_comment),
            ("PATCH", r"/issues/comments/(\d+)", self._edit_comment),
            ("GET", r"/commits/([^/]+)", self._get_commit),
            ("POST", r"/statuses/([^/]+)", self._create_status),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, rest)
            if match and verb == method:
                return handler(query, body, *match.groups())
        return self._error(404, "Not Found")

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    # -- endpoints ----------------------------------------------------------------------------------

    def _get_repo(self, query: dict[str, str], body: Any) -> None:
        self._send(200, self.stub.repository())

    def _get_issue(self, query: dict[str, str], body: Any, number: str) -> None:
        if int(number) in self.stub.state.issues:
            return self._send(200, dict(self.stub.state.issues[int(number)]))
        if int(number) not in self.stub.pulls:
            return self._error(404, "Not Found")
        self._send(200, self.stub.issue(int(number)))

    def _list_issues(self, query: dict[str, str], body: Any) -> None:
        stub = self.stub
        state = query.get("state", "open")
        wanted = {n for n in query.get("labels", "").split(",") if n}
        with stub._lock:
            items = [dict(i) for i in stub.state.issues.values()]
        items += [stub.issue(n) for n in sorted(stub.pulls)]
        items = [i for i in items if state == "all" or i["state"] == state]
        if wanted:
            items = [i for i in items if wanted <= {lab["name"] for lab in i.get("labels") or []}]
        items.sort(key=lambda i: i["number"], reverse=query.get("direction", "desc") == "desc")
        self._page(items, query, f"{stub.repo_url}/issues")

    def _create_issue(self, query: dict[str, str], body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("title"), str) or not body["title"].strip():
            return self._error(422, "Validation Failed: title is missing")
        if len(body.get("body") or "") > 65536:
            return self._error(422, "Validation Failed: body is too long (maximum is 65536 characters)")
        labels = body.get("labels") or []
        issue = self.stub.add_issue(body["title"], body.get("body") or "", tuple(str(n) for n in labels))
        self._send(201, issue, {"Location": issue["url"]})

    def _edit_issue(self, query: dict[str, str], body: Any, number: str) -> None:
        stub = self.stub
        if not isinstance(body, dict):
            return self._error(422, "Validation Failed")
        if body.get("state") not in (None, "open", "closed") or \
                body.get("state_reason") not in (None, "completed", "not_planned", "reopened"):
            return self._error(422, "Validation Failed: invalid state or state_reason")
        with stub._lock:
            issue = stub.state.issues.get(int(number))
            if issue is None:
                return self._error(404, "Not Found")
            for key in ("title", "body", "state", "state_reason"):
                if key in body:
                    issue[key] = body[key]
            if "labels" in body:
                issue["labels"] = [stub.label(str(n)) for n in body["labels"] or []]
            issue["updated_at"] = _now()
            issue["closed_at"] = issue["updated_at"] if issue["state"] == "closed" else None
            snapshot = dict(issue)
        self._send(200, snapshot)

    def _page(self, items: list[dict[str, Any]], query: dict[str, str], base: str) -> None:
        """One page of ``items`` with GitHub's ``Link`` header (``per_page``, ``page``)."""
        try:
            per_page = max(1, min(int(query.get("per_page", 30)), self.stub.max_per_page))
            page = max(1, int(query.get("page", 1)))
        except ValueError:
            return self._error(422, "Invalid request.")
        last = max(1, -(-len(items) // per_page))

        def link(p: int) -> str:
            return f"{base}?{urllib.parse.urlencode(dict(query, per_page=str(per_page), page=str(p)))}"

        rels = []
        if page < last:
            rels += [f'<{link(page + 1)}>; rel="next"', f'<{link(last)}>; rel="last"']
        if page > 1:
            rels += [f'<{link(page - 1)}>; rel="prev"', f'<{link(1)}>; rel="first"']
        self._send(200, items[(page - 1) * per_page: page * per_page], {"Link": ", ".join(rels)} if rels else None)

    def _get_pull(self, query: dict[str, str], body: Any, number: str) -> None:
        stub = self.stub
        if int(number) not in stub.pulls:
            return self._error(404, "Not Found")
        pull = stub.issue(int(number))
        pull.pop("pull_request", None)
        pull.update({"url": f"{stub.repo_url}/pulls/{number}", "issue_url": f"{stub.repo_url}/issues/{number}",
                     "head": {"ref": "feature", "sha": stub.pull_head_sha, "label": "octo-dev:feature"},
                     "base": {"ref": "main", "sha": "b" * 40, "label": f"{stub.owner}:main"}})
        self._send(200, pull)

    def _list_comments(self, query: dict[str, str], body: Any, number: str) -> None:
        stub = self.stub
        if int(number) not in stub.pulls and int(number) not in stub.state.issues:
            return self._error(404, "Not Found")
        try:
            per_page = max(1, min(int(query.get("per_page", 30)), stub.max_per_page))
            page = max(1, int(query.get("page", 1)))
        except ValueError:
            return self._error(422, "Invalid request.")
        with stub._lock:
            items = [dict(c) for c in stub.state.comments.get(int(number), [])]
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]

        def link(p: int) -> str:
            params = dict(query, per_page=str(per_page), page=str(p))
            return f"{stub.repo_url}/issues/{number}/comments?{urllib.parse.urlencode(params)}"

        rels = []
        if page < last:
            rels += [f'<{link(page + 1)}>; rel="next"', f'<{link(last)}>; rel="last"']
        if page > 1:
            rels += [f'<{link(page - 1)}>; rel="prev"', f'<{link(1)}>; rel="first"']
        self._send(200, chunk, {"Link": ", ".join(rels)} if rels else None)

    def _create_comment(self, query: dict[str, str], body: Any, number: str) -> None:
        if int(number) not in self.stub.pulls and int(number) not in self.stub.state.issues:
            return self._error(404, "Not Found")
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            return self._error(422, "Validation Failed")
        if len(body["body"]) > 65536:
            return self._error(422, "Validation Failed: body is too long (maximum is 65536 characters)")
        comment = self.stub.add_comment(int(number), body["body"])
        self._send(201, comment, {"Location": comment["url"]})

    def _find_comment(self, cid: str) -> dict[str, Any] | None:
        for comments in self.stub.state.comments.values():
            for comment in comments:
                if comment["id"] == int(cid):
                    return comment
        return None

    def _get_comment(self, query: dict[str, str], body: Any, cid: str) -> None:
        comment = self._find_comment(cid)
        if comment is None:
            return self._error(404, "Not Found")
        self._send(200, comment)

    def _edit_comment(self, query: dict[str, str], body: Any, cid: str) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            return self._error(422, "Validation Failed")
        if len(body["body"]) > 65536:
            return self._error(422, "Validation Failed: body is too long (maximum is 65536 characters)")
        with self.stub._lock:
            comment = self._find_comment(cid)
            if comment is None:
                return self._error(404, "Not Found")
            comment["body"] = body["body"]
            comment["updated_at"] = _now()
            snapshot = dict(comment)
        self._send(200, snapshot)

    def _get_commit(self, query: dict[str, str], body: Any, sha: str) -> None:
        url = f"{self.stub.repo_url}/commits/{sha}"
        self._send(200, {"sha": sha, "node_id": f"C_{sha[:10]}", "url": url,
                         "html_url": f"https://github.example.invalid/{self.stub.full_name}/commit/{sha}",
                         "comments_url": url + "/comments",
                         "commit": {"url": f"{self.stub.repo_url}/git/commits/{sha}", "message": "a commit",
                                    "comment_count": 0},
                         "parents": [], "files": []})

    def _create_status(self, query: dict[str, str], body: Any, sha: str) -> None:
        if not isinstance(body, dict) or body.get("state") not in STATUS_STATES:
            return self._error(422, "Validation Failed: state must be one of " + ", ".join(STATUS_STATES))
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 140):
            return self._error(422, "Validation Failed: description is too long (maximum is 140 characters)")
        stub = self.stub
        with stub._lock:
            sid = next(stub._ids)
            stamp = _now()
            status = {"url": f"{stub.repo_url}/statuses/{sha}", "avatar_url": None, "id": sid,
                      "node_id": f"SC_kwDO{sid}", "state": body["state"], "description": description,
                      "target_url": body.get("target_url"), "context": body.get("context") or "default",
                      "created_at": stamp, "updated_at": stamp, "creator": stub.user()}
            stub.state.statuses.setdefault(sha, []).append(status)
        self._send(201, status)


__all__ = ["GitHubStub", "Recorded"]
