"""No silent breaking change within v1 (issue 17 item 3).

The document the functions build (the one committed and served, see test_openapi.py) is
compared with the v1 baseline `docs/openapi-v1-baseline.json`; every difference must be listed
in `docs/API-CHANGELOG.md`, a breaking one under a "Breaking" heading. Both files are in the
repository, so this works in a fresh clone with no history.
"""

import copy
import json

import pytest

from scripts.openapi import BASELINE, CHANGELOG, Change, changes, listed, render, unlisted


@pytest.fixture(scope="module")
def baseline():
    return json.loads(BASELINE.read_text())


def test_every_difference_from_the_v1_baseline_is_in_the_changelog(baseline):
    found = changes(baseline, json.loads(render()))
    missing = unlisted(found, CHANGELOG.read_text())
    assert not missing, (
        "list these in docs/API-CHANGELOG.md (breaking ones under a 'Breaking' heading; "
        "`python scripts/openapi.py --changes` prints them):\n"
        + "\n".join(f"{'BREAKING' if c.breaking else 'additive'}  - `{c.key}`" for c in missing)
    )


def test_the_baseline_is_a_v1_document(baseline):
    assert baseline["openapi"].startswith("3.1")
    assert baseline["info"]["version"].startswith("1.")
    assert "/v1/channels" in baseline["paths"]


# --- what the comparison sees, on a small document ---------------------------------------------


def doc():
    return {
        "paths": {
            "/v1/notes": {
                "post": {
                    "operationId": "create_note",
                    "parameters": [
                        {
                            "name": "mode",
                            "in": "query",
                            "required": False,
                            "schema": {"enum": ["a", "b"], "type": "string"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/NoteIn"}}
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/NoteOut"}
                                }
                            },
                        },
                        "422": {"description": "bad"},
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "NoteIn": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {
                        "text": {"type": "string"},
                        "color": {
                            "anyOf": [{"$ref": "#/components/schemas/Color"}, {"type": "null"}]
                        },
                    },
                },
                "Color": {"type": "string", "enum": ["red", "blue"]},
                "NoteOut": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "string"}, "state": {"enum": ["open", "done"]}},
                },
            }
        },
    }


def keys(old, new):
    return {(c.key, c.breaking) for c in changes(old, new)}


def test_identical_documents_have_no_change():
    assert changes(doc(), doc()) == []


def test_removals_are_breaking():
    new = doc()
    op = new["paths"]["/v1/notes"]["post"]
    del op["responses"]["422"]
    del new["components"]["schemas"]["NoteOut"]["properties"]["state"]
    new["components"]["schemas"]["Color"]["enum"] = ["red"]
    op["parameters"][0]["schema"]["enum"] = ["a"]
    assert keys(doc(), new) == {
        ("removed response: POST /v1/notes 422", True),
        ("removed field: NoteOut.state", True),
        ('removed enum value: Color "blue"', True),
        ('removed enum value: POST /v1/notes query.mode "b"', True),
    }


def test_a_removed_operation_is_one_change_not_one_per_response():
    new = doc()
    new["paths"] = {}
    assert keys(doc(), new) == {("removed operation: POST /v1/notes", True)}


def test_newly_required_request_field_is_breaking_but_a_response_field_is_not():
    new = doc()
    schemas = new["components"]["schemas"]
    schemas["NoteIn"]["required"].append("color")
    schemas["NoteOut"]["required"].append("state")
    new["paths"]["/v1/notes"]["post"]["parameters"][0]["required"] = True
    assert keys(doc(), new) == {
        ("newly required field: NoteIn.color", True),
        ("newly required parameter: POST /v1/notes query.mode", True),
    }


def test_a_new_required_field_is_an_addition_and_a_breaking_requirement():
    new = doc()
    schemas = new["components"]["schemas"]
    schemas["NoteIn"]["properties"]["pinned"] = {"type": "boolean"}
    schemas["NoteIn"]["required"].append("pinned")
    assert keys(doc(), new) == {
        ("added field: NoteIn.pinned", False),
        ("newly required field: NoteIn.pinned", True),
    }


def test_additions_are_not_breaking_and_a_new_schema_is_one_change():
    new = doc()
    schemas = new["components"]["schemas"]
    schemas["Tag"] = {"type": "object", "required": ["x"], "properties": {"x": {"type": "string"}}}
    schemas["NoteOut"]["properties"]["tags"] = {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Tag"},
    }
    schemas["Color"]["enum"].append("green")
    new["paths"]["/v1/notes"]["post"]["responses"]["429"] = {"description": "slow"}
    assert keys(doc(), new) == {
        ("added schema: Tag", False),
        ("added field: NoteOut.tags", False),
        ('added enum value: Color "green"', False),
        ("added response: POST /v1/notes 429", False),
    }


def test_a_renamed_schema_or_operation_and_a_changed_type_are_breaking():
    new = copy.deepcopy(doc())
    schemas = new["components"]["schemas"]
    schemas["Colour"] = schemas.pop("Color")
    schemas["NoteIn"]["properties"]["color"]["anyOf"][0] = {"$ref": "#/components/schemas/Colour"}
    schemas["NoteOut"]["properties"]["id"] = {"type": "integer"}
    new["paths"]["/v1/notes"]["post"]["operationId"] = "add_note"
    assert keys(doc(), new) == {
        ("removed schema: Color", True),
        ("added schema: Colour", False),
        ("changed field type: NoteIn.color", True),
        ("changed field type: NoteOut.id", True),
        ("changed operation id: POST /v1/notes", True),
    }


def test_constraints_and_descriptions_are_not_compared():
    new = doc()
    schemas = new["components"]["schemas"]
    schemas["NoteIn"]["properties"]["text"].update(maxLength=200, description="The note")
    assert changes(doc(), new) == []


CHANGELOG_TEXT = """# API changelog
## Unreleased
### Added
- `added field: NoteOut.tags` for labels
- `removed field: NoteOut.state` listed as if additive, and over two lines:
  `added schema: Label`

Prose mentioning `added schema: Tag` is not an entry.
### Breaking
- `removed response: POST /v1/notes 422`: never sent
"""


def test_the_changelog_lists_keys_by_heading():
    breaking, anywhere = listed(CHANGELOG_TEXT)
    assert breaking == {"removed response: POST /v1/notes 422"}
    assert "added field: NoteOut.tags" in anywhere
    assert "added schema: Label" in anywhere
    assert "added schema: Tag" not in anywhere


def test_a_breaking_change_must_be_under_a_breaking_heading():
    found = [
        Change("added field: NoteOut.tags", False),
        Change("removed field: NoteOut.state", True),
        Change("removed response: POST /v1/notes 422", True),
        Change("added schema: Tag", False),
    ]
    assert [c.key for c in unlisted(found, CHANGELOG_TEXT)] == [
        "removed field: NoteOut.state",
        "added schema: Tag",
    ]


def test_a_new_operation_covers_the_schemas_only_it_uses():
    new = doc()
    schemas = new["components"]["schemas"]
    schemas["Label"] = {"type": "object", "properties": {"name": {"enum": ["a"]}}}
    schemas["LabelList"] = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Label"}}},
    }
    new["paths"]["/v1/labels"] = {
        "get": {
            "operationId": "list_labels",
            "responses": {
                "200": {
                    "description": "ok",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/LabelList"}}
                    },
                }
            },
        }
    }
    assert keys(doc(), new) == {("added operation: GET /v1/labels", False)}
    # ... but not a schema an existing operation also reaches
    schemas["NoteOut"]["properties"]["label"] = {"$ref": "#/components/schemas/Label"}
    assert keys(doc(), new) == {
        ("added operation: GET /v1/labels", False),
        ("added field: NoteOut.label", False),
        ("added schema: Label", False),
    }
