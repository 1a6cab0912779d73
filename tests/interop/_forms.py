"""A form-filling user agent over httpx: the browser's half of an authorization code flow.

It does on Bedside's sign-in and consent pages what a person's browser does and nothing more:
follows redirects, keeps cookies, submits each form as rendered (hidden fields, ticked boxes,
the clicked button's name and value) with the headers a browser sends on a form navigation
(Origin, Referer, Sec-Fetch-*), and stops at the app's redirect URI without fetching it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

MAX_STEPS = 12


@dataclass
class Button:
    name: str | None
    value: str
    label: str


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    input_names: set[str] = field(default_factory=set)
    buttons: list[Button] = field(default_factory=list)

    def button(self, label: str) -> Button | None:
        return next((b for b in self.buttons if b.label == label), None)


@dataclass
class Page:
    url: str
    forms: list[Form]
    text: str

    def login_form(self) -> Form | None:
        return next((f for f in self.forms if "password" in f.input_names), None)

    def form_with_button(self, label: str) -> Form | None:
        return next((f for f in self.forms if f.button(label)), None)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.text: list[str] = []
        self._form: Form | None = None
        self._button: Button | None = None
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._skip = 0  # inside <script> or <style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "form":
            self._form = Form(a.get("action", ""), (a.get("method") or "get").upper())
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            self._input(self._form, a)
        elif tag == "button" and a.get("type", "submit").lower() == "submit":
            self._button = Button(a.get("name") or None, a.get("value", ""), "")
            self._form.buttons.append(self._button)
        elif tag == "select" and a.get("name"):
            self._select = (a["name"], [])
            self._form.input_names.add(a["name"])
        elif tag == "option" and self._select is not None:
            self._select[1].append((a.get("value", ""), "selected" in a))

    def _input(self, form: Form, a: dict[str, str]) -> None:
        kind = a.get("type", "text").lower()
        name = a.get("name")
        if kind in ("submit", "image"):
            form.buttons.append(Button(name or None, a.get("value", ""), a.get("value", "")))
            return
        if not name:
            return
        form.input_names.add(name)
        if kind in ("checkbox", "radio") and "checked" not in a:
            return
        default = "on" if kind in ("checkbox", "radio") else ""
        form.fields.append((name, a.get("value", default)))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag == "form":
            self._form = None
        elif tag == "button" and self._button is not None:
            self._button.label = " ".join(self._button.label.split())
            self._button = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, options = self._select
            chosen = [v for v, selected in options if selected] or [v for v, _ in options[:1]]
            self._form.fields.extend((name, v) for v in chosen)
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._button is not None:
            self._button.label += data
        if data.strip():
            self.text.append(" ".join(data.split()))


def parse_page(url: str, html: str) -> Page:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return Page(url, parser.forms, " | ".join(parser.text))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class FormUserAgent:
    """Walks authorize → sign in → consent (Allow) until the redirect to the app."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.http = httpx.Client(follow_redirects=False, timeout=30.0)
        self.transcript: list[str] = []

    def __enter__(self) -> FormUserAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def authorize(self, authorize_url: str, redirect_uri: str) -> str:
        """The URL the authorization server sent the browser back to (code and state, or error)."""
        method, url = "GET", authorize_url
        data: list[tuple[str, str]] | None = None
        headers: dict[str, str] = {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}
        for _ in range(MAX_STEPS):
            body = None
            if data is not None:
                body = urlencode(data).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = self.http.request(method, url, content=body, headers=headers)
            self.transcript.append(f"{method} {url} -> {response.status_code}")
            if response.is_redirect:
                location = urljoin(url, response.headers["location"])
                if location.startswith(redirect_uri):
                    return location
                if response.status_code not in (307, 308):
                    method, data = "GET", None
                headers = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"}
                url = location
                continue
            page = parse_page(url, response.text)
            if response.status_code != 200:
                raise AssertionError(self._explain(f"{response.status_code} page", page))
            method, url, data = self._submit(page)
            same_origin = _origin(url) == _origin(page.url)
            headers = {
                "Origin": _origin(page.url),
                "Referer": page.url,
                "Sec-Fetch-Site": "same-origin" if same_origin else "cross-site",
                "Sec-Fetch-Mode": "navigate",
                "Sec-Fetch-User": "?1",
            }
        raise AssertionError(self._explain(f"no redirect to the app after {MAX_STEPS} steps"))

    def _submit(self, page: Page) -> tuple[str, str, list[tuple[str, str]] | None]:
        login = page.login_form()
        if login is not None:
            data = [(k, v) for k, v in login.fields if k not in ("username", "password")]
            data += [("username", self.username), ("password", self.password)]
            chosen = login.button("Sign in") or (login.buttons[0] if login.buttons else None)
            return self._request(page, login, data, chosen)
        consent = page.form_with_button("Allow")
        if consent is not None:
            return self._request(page, consent, list(consent.fields), consent.button("Allow"))
        raise AssertionError(self._explain("a page with neither a sign-in nor an Allow form", page))

    @staticmethod
    def _request(
        page: Page, form: Form, data: list[tuple[str, str]], button: Button | None
    ) -> tuple[str, str, list[tuple[str, str]] | None]:
        if button is not None and button.name:
            data = [*data, (button.name, button.value)]
        target = urljoin(page.url, form.action or page.url)
        if form.method == "GET":  # HTML: a GET form replaces the action's query with its fields
            return "GET", f"{target.split('?')[0]}?{urlencode(data)}", None
        return form.method, target, data

    def _explain(self, problem: str, page: Page | None = None) -> str:
        lines = [f"The browser half of the flow stopped: {problem}.", *self.transcript]
        if page is not None:
            lines.append(f"Page text at {page.url}: {page.text[:3000]}")
        return "\n  ".join(lines)
