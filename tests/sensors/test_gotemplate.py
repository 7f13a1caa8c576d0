"""Go text/template as Argo Events uses it (``dataTemplate``, ``contextTemplate``, filter templates)."""

from __future__ import annotations

from typing import Any

import pytest

from triggerfish.expressions.gjson import to_go_value
from triggerfish.expressions.gotemplate import TemplateError, go_sprintf, parse_template, render

PAYLOAD = to_go_value(
    {
        "body": {
            "pull_request": {"number": 21500, "title": "Fix <it>", "head": {"sha": "2c065a9f4d"}},
            "x": "hello world",
            "list": ["a", "b", "c"],
            "nums": [1, 2, 3],
            "map": {"b": 2, "a": 1},
            "null": None,
            "big": 1234567,
        },
        "header": {"X-Github-Event": ["pull_request"]},
    }
)
DATA = {"Input": PAYLOAD}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # the forms in Argo Events' examples and tests
        ("{{ .Input.body.pull_request.head.sha | substr 0 7 }}", "2c065a9"),
        (
            "{{ .Input.body.pull_request.number }}-{{ .Input.body.pull_request.head.sha | substr 0 7 }}",
            "21500-2c065a9",
        ),
        ("{{ .Input.body.x | upper }}", "HELLO WORLD"),
        ("{{ upper .Input.body.x }}", "HELLO WORLD"),
        ('{{ .Input.body.x | replace " " "_" }}', "hello_world"),
        ("{{ .Input.body.list | toJson }}", '["a","b","c"]'),
        ("{{ .Input.body.map | toJson }}", '{"a":1,"b":2}'),
        ("{{ .Input.body.pull_request.title | toJson }}", '"Fix \\u003cit\\u003e"'),
        ("{{ toJson .Input.body.nums }}", "[1,2,3]"),
        ('{{ index .Input.header "X-Github-Event" 0 }}', "pull_request"),
        # Go's printing of JSON numbers (float64) and missing values
        ("{{ .Input.body.big }}", "1.234567e+06"),
        ("{{ .Input.body.missing }}", "<no value>"),
        ("{{ .Input.body.missing.deeper }}", "<no value>"),
        ("{{ .Input.body.null }}", "<no value>"),
        ("{{ .Input.body.map }}", "map[a:1 b:2]"),
        # control structures
        ("{{ if .Input.body.x }}yes{{ else }}no{{ end }}", "yes"),
        ("{{ if .Input.body.missing }}yes{{ else }}no{{ end }}", "no"),
        ('{{ if eq .Input.body.x "nope" }}A{{ else if .Input.body.list }}B{{ else }}C{{ end }}', "B"),
        ("{{ range .Input.body.list }}[{{ . }}]{{ end }}", "[a][b][c]"),
        ("{{ range $i, $e := .Input.body.list }}{{ $i }}={{ $e }};{{ end }}", "0=a;1=b;2=c;"),
        ("{{ range $k, $v := .Input.body.map }}{{ $k }}:{{ $v }},{{ end }}", "a:1,b:2,"),
        ("{{ range .Input.body.missing }}x{{ else }}empty{{ end }}", "empty"),
        ('{{ range .Input.body.list }}{{ if eq . "b" }}{{ break }}{{ end }}{{ . }}{{ end }}', "a"),
        ('{{ range .Input.body.list }}{{ if eq . "b" }}{{ continue }}{{ end }}{{ . }}{{ end }}', "ac"),
        ("{{ with .Input.body.pull_request }}{{ .title }}{{ end }}", "Fix <it>"),
        ("{{ with .Input.body.missing }}x{{ else }}none{{ end }}", "none"),
        ('{{ $x := .Input.body.x }}{{ $x }}|{{ $x = "bye" }}{{ $x }}', "hello world|bye"),
        ("{{ range .Input.body.list }}{{ $.Input.body.x }}{{ end }}", "hello worldhello worldhello world"),
        # whitespace trimming and comments
        ("a  {{- /* comment */ -}}  b", "ab"),
        ("a {{- 1 }} b", "a1 b"),
        ("a {{ 1 -}}\n b", "a 1b"),
        ("{{-3}}", "-3"),
        # literals, builtins, sprig
        ("{{ 'a' }} {{ 0x1F }} {{ 1e3 }} {{ -2 }} {{ 1.5 }} {{ `raw\\n` }}", "97 31 1000 -2 1.5 raw\\n"),
        ('{{ "tab\\there" }}', "tab\there"),
        ('{{ and 1 0 2 }} {{ or 0 "" "z" }} {{ not true }} {{ and 1 2 }}', "0 z false 2"),
        ("{{ len .Input.body.list }} {{ len .Input.body.x }}", "3 11"),
        ("{{ index .Input.body.list 1 }}", "b"),
        ('{{ print 1 2 "a" 3 }}', "1 2a3"),
        (
            '{{ printf "%s-%03d-%.2f-%v-%q-%t" "s" 7 3.14159 .Input.body.list "q" true }}',
            's-007-3.14-[a b c]-"q"-true',
        ),
        ('{{ .Input.body.pull_request.number | printf "#%v" }}', "#21500"),
        ('{{ default "dflt" .Input.body.missing }}', "dflt"),
        ("{{ (.Input.body.pull_request).head.sha | trunc 4 }}", "2c06"),
        ('{{ lt 1 2 }} {{ ge "b" "a" }} {{ ne 1 2 }}', "true true true"),
        ('{{ html "<a&b>" }} {{ urlquery "a b&c" }}', "&lt;a&amp;b&gt; a+b%26c"),
        ("{{ .Input.body.x | title | nospace }}", "HelloWorld"),
        ("{{ b64enc .Input.body.x | b64dec }}", "hello world"),
    ],
)
def test_renders(template: str, expected: str) -> None:
    assert render(template, DATA) == expected


def test_filter_templates_see_a_string_input() -> None:
    assert render("{{ .Input | upper }}", {"Input": "abc"}) == "ABC"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ no }}", 'template: 1:4: function "no" not defined'),
        ("{{ .Input.body.null.x }}", "nil pointer evaluating interface {}.x"),
        ("{{ eq .Input.body.pull_request.number 21500 }}", "incompatible types for comparison"),
        ("{{ .Input | substr 0 }}", "template: 1:13: wrong number of args for substr: want 3 got 2"),
        ("{{ .Input.body.x | substr 0 .Input.body.big }}", "error calling substr"),
        ("{{ if }}", "missing value for command"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ if 1 }}x", "unexpected EOF"),
        ('{{ define "x" }}{{ end }}', "{{define}} is not supported"),
        ("{{ $y }}", "undefined variable: $y"),
        ("{{ .Input.x", "unclosed action"),
        ('{{ "a" | .Input }}', "Input is not a method but has arguments"),
        ("{{ 1 2 }}", "can't give argument to non-function 1"),
        ("{{ index .Input.body.list 5 }}", "index out of range: 5"),
        ("{{ .Input.body.x.y }}", "can't evaluate field y in type string"),
        ("line1\n{{ bad }}", "template: 2:4:"),
        ("{{ break }}", "break or continue outside range"),
        ('{{ "unterminated }}', "unterminated quoted string"),
    ],
)
def test_errors_name_the_position(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as excinfo:
        render(template, DATA)
    assert message in str(excinfo.value)


def test_templates_are_parsed_once_and_reusable() -> None:
    template = parse_template("{{ .Input.a }}")
    assert template is parse_template("{{ .Input.a }}")
    assert template.execute({"Input": {"a": 1.0}}) == "1"
    assert template.execute({"Input": {"a": "x"}}) == "x"


@pytest.mark.parametrize(
    ("fmt", "args", "expected"),
    [
        (
            "%d|%5d|%-5d|%05d|%x|%X|%o|%b",
            (42, 42, 42, -42, 255, 255, 8, 5),
            "42|   42|42   |-0042|ff|FF|10|101",
        ),
        ("%s|%10s|%-4s|%.2s", ("a", "b", "c", "xyz"), "a|         b|c   |xy"),
        ("%v %v %v %v", (1.0, 1e21, None, {"b": 1, "a": 2}), "1 1e+21 <nil> map[a:2 b:1]"),
        ("%f %.1f %e %g", (1.5, 2.25, 123456.0, 0.5), "1.500000 2.2 1.234560e+05 0.5"),
        ("%q %c %T %%", ('a"b', 65, 1.5), '"a\\"b" A float64 %'),
        ("%d", ("x",), "%!d(string=x)"),
        ("%s %s", ("a",), "a %!s(MISSING)"),
        ("%s", ("a", 1), "a%!(EXTRA int=1)"),
        ("%t", (1,), "%!t(int=1)"),
    ],
)
def test_sprintf(fmt: str, args: tuple[Any, ...], expected: str) -> None:
    assert go_sprintf(fmt, *args) == expected
