"""Server-side validation: Coral's message format, over botocore's real shapes."""

from __future__ import annotations

import pytest

from emulator.api.service_models import service_model
from emulator.api.validate import lower_camel, render, validate
from emulator.errors import SerializationException, ValidationException


def shape(operation: str, service: str = "sagemaker"):
    return service_model(service).operation_model(operation).input_shape


def message(operation: str, params, service: str = "sagemaker") -> str:
    with pytest.raises(ValidationException) as info:
        validate(shape(operation, service), params)
    return info.value.message


@pytest.mark.parametrize("name, camel", [
    ("TrainingJobName", "trainingJobName"), ("S3Uri", "s3Uri"), ("KMSKeyId", "KMSKeyId"),
    ("VpcConfig", "vpcConfig"), ("A", "a"),
])
def test_lower_camel_follows_java_beans(name, camel):
    assert lower_camel(name) == camel


def test_valid_request_passes_and_unknown_members_are_dropped():
    out = validate(shape("DescribeModel"), {"ModelName": "m-1", "Surprise": 1})
    assert out == {"ModelName": "m-1"}


def test_required_member_missing():
    assert message("DescribeModel", {}) == (
        "1 validation error detected: Value null at 'modelName' failed to satisfy constraint: "
        "Member must not be null")


def test_several_errors_are_counted_and_joined_in_member_order():
    text = message("CreateTrainingJob", {"TrainingJobName": "bad_name"})
    assert text.startswith("3 validation errors detected: Value 'bad_name' at 'trainingJobName' failed to "
                           "satisfy constraint: Member must satisfy regular expression pattern: ")
    assert text.endswith("; Value null at 'roleArn' failed to satisfy constraint: Member must not be null; "
                         "Value null at 'outputDataConfig' failed to satisfy constraint: Member must not be null")


def test_length_and_pattern_both_reported_for_one_value():
    bad = "x_" * 40
    text = message("DescribeModel", {"ModelName": bad})
    assert text.startswith("2 validation errors detected: ")
    assert f"Value '{bad}' at 'modelName' failed to satisfy constraint: Member must have length less than " \
           "or equal to 63; " in text


def test_enum_lists_the_allowed_values():
    text = message("ListTrainingJobs", {"StatusEquals": "Done"})
    assert text == ("1 validation error detected: Value 'Done' at 'statusEquals' failed to satisfy constraint: "
                    "Member must satisfy enum value set: [InProgress, Completed, Failed, Stopping, Stopped, "
                    "Deleting]")


def test_number_ranges():
    assert message("ListModels", {"MaxResults": 0}).endswith(
        "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1")
    assert message("ListModels", {"MaxResults": 101}).endswith("less than or equal to 100")


def test_nested_list_members_are_one_based_with_member_segment():
    params = {"ModelName": "m", "PrimaryContainer": {"Image": "i"},
              "Tags": [{"Key": "ok", "Value": "v"}, {"Key": "", "Value": "v"}]}
    text = message("CreateModel", params)
    assert "at 'tags.2.member.key' failed to satisfy constraint: Member must have length greater than or " \
           "equal to 1" in text


def test_list_length_constraint():
    params = {"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m", "TagKeys": []}
    assert "Value '[]' at 'tagKeys' failed to satisfy constraint: Member must have length greater than or " \
           "equal to 1" in message("DeleteTags", params)


def test_map_values_and_keys():
    params = {"ModelName": "m", "PrimaryContainer": {"Image": "i", "Environment": {"K": "v" * 1025}}}
    assert "at 'primaryContainer.environment' failed to satisfy constraint: Map value must satisfy " \
           "constraint: [Member must have length less than or equal to 1024]" in message("CreateModel", params)
    params["PrimaryContainer"]["Environment"] = {"bad key!": "v"}
    assert "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: " \
           in message("CreateModel", params)


def test_java_unicode_property_patterns_are_supported():
    # Tag values use \p{L}\p{Z}\p{N}: letters of any script are fine, control characters are not
    params = {"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m",
              "Tags": [{"Key": "owner", "Value": "Zoë Ωmega 42"}]}
    validate(shape("AddTags"), params)
    params["Tags"][0]["Value"] = "bell\x07"
    assert "at 'tags.1.member.value'" in message("AddTags", params)


@pytest.mark.parametrize("params, fragment", [
    ({"ModelName": 5}, "Value 5 at 'modelName' cannot be read as string"),
    ({"ModelName": True}, "Value true at 'modelName'"),
    ({"ModelName": {"a": 1}}, "Value of type object at 'modelName'"),
    ({"ModelName": ["m"]}, "Value of type array at 'modelName'"),
])
def test_wrong_json_types_are_serialization_errors(params, fragment):
    with pytest.raises(SerializationException) as info:
        validate(shape("DescribeModel"), params)
    assert fragment in info.value.message


def test_integer_rejects_fraction_and_bool_float_accepts_int():
    with pytest.raises(SerializationException):
        validate(shape("ListModels"), {"MaxResults": 1.5})
    with pytest.raises(SerializationException):
        validate(shape("ListModels"), {"MaxResults": True})
    variant = {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large",
               "InitialVariantWeight": 1}
    out = validate(shape("CreateEndpointConfig"), {"EndpointConfigName": "c", "ProductionVariants": [variant]})
    assert out["ProductionVariants"][0]["InitialVariantWeight"] == 1


def test_timestamps_accept_epoch_and_iso_and_become_floats():
    out = validate(shape("ListModels"), {"CreationTimeAfter": 1700000000, "CreationTimeBefore": "2024-01-01T00:00:00Z"})
    assert out == {"CreationTimeAfter": 1700000000.0, "CreationTimeBefore": 1704067200.0}
    with pytest.raises(SerializationException):
        validate(shape("ListModels"), {"CreationTimeAfter": "yesterday"})


def test_body_must_be_an_object():
    with pytest.raises(SerializationException, match="must be a JSON object"):
        validate(shape("ListModels"), [1, 2])


def test_deeply_nested_garbage_is_not_a_crash():
    nested: dict = {}
    cursor = nested
    for _ in range(5000):
        cursor["PrimaryContainer"] = {}
        cursor = cursor["PrimaryContainer"]
    with pytest.raises((ValidationException, SerializationException)):
        validate(shape("CreateModel"), nested)


def test_long_values_are_truncated_in_messages():
    text = message("DescribeModel", {"ModelName": "x" * 5000})
    assert len(text) < 3000 and "..." in text


def test_render_matches_java_tostring():
    assert render([1, "a"]) == "[1, a]"
    assert render({"k": "v"}) == "{k=v}"
    assert render(False) == "false"
