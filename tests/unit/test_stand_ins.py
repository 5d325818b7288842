"""The simulated models mean something on a team's own task, not only on the moderation sample: the base model
answers from what its prompt carries (labels, tools, examples, else the request's lead), the custom model from
its nearest training example with the request's own values. Issue #21 item 4."""

from __future__ import annotations

import json
from pathlib import Path

from bft.workflow.scoring import score
from bft_twin.bedrock_fake._base_model import base_answer, in_context_examples, lead, tool_call
from bft_twin.bedrock_fake._inference import Prompt, converse_prompt
from bft_twin.bedrock_fake._learner import parse_lines, train
from bft_twin.bedrock_fake._slots import adapt, options_by_path
from tests import tool_use_data


def _prompt(user: str, *, system: str = "", examples: tuple[tuple[str, str], ...] = ()) -> Prompt:
    return Prompt(user, f"{system}\n{user}", 1 + 2 * len(examples), None, system, examples)


def _request(words: str) -> str:
    return f"{tool_use_data.INSTRUCTION}<request>\n{words}\n</request>"


def test_the_base_model_calls_the_tool_a_request_names_with_the_values_it_reads() -> None:
    answer = json.loads(tool_call(_prompt(_request("Book a table for 4 at The Oak at 19:30."))) or "null")
    assert answer == {"name": "book_table", "parameters": {"restaurant": "The Oak", "party_size": 4, "time": "19:30"}}
    weather = json.loads(base_answer(_prompt(_request("What's the weather in Oslo in fahrenheit?"))))
    assert weather == {"name": "get_weather", "parameters": {"city": "Oslo", "unit": "fahrenheit"}}


def test_without_a_word_of_the_tool_the_base_model_guesses_wrong_as_a_zero_shot_model_may() -> None:
    # "I have ... what is that in ..." shares no word with convert_currency's name or description.
    answer = json.loads(base_answer(_prompt(_request("I have 742 SEK; what is that in EUR?"))))
    assert answer["name"] != "convert_currency"


def test_the_base_model_answers_from_the_examples_its_prompt_carries() -> None:
    system = (
        "Route each ticket to a queue.\nExamples:\nTicket: my invoice is wrong\nQueue: billing\n"
        "Ticket: the app crashes on start\nQueue: engineering\nTicket: I want to cancel my plan\nQueue: retention"
    )
    prompt = _prompt("Ticket: the app crashes when I upload", system=system)
    assert in_context_examples(prompt)[1] == ("the app crashes on start", "engineering")
    assert base_answer(prompt) == "engineering"
    # Earlier turns of the conversation are examples too (Converse's few-shot shape).
    request = {
        "messages": [
            {"role": "user", "content": [{"text": "capital of France?"}]},
            {"role": "assistant", "content": [{"text": "Paris"}]},
            {"role": "user", "content": [{"text": "capital of Peru?"}]},
            {"role": "assistant", "content": [{"text": "Lima"}]},
            {"role": "user", "content": [{"text": "the capital of Peru, again?"}]},
        ]
    }
    assert base_answer(converse_prompt(request)) == "Lima"


def test_with_nothing_to_go_on_the_base_model_answers_the_lead_never_the_instructions() -> None:
    article = " ".join(f"Sentence {i} says something new about the harbour." for i in range(12))
    answer = base_answer(_prompt(f"Summarize in one line.\n<request>\n{article}\n</request>"))
    assert answer == lead(article)
    assert answer.startswith("Sentence 0 says")
    assert len(answer.split()) == 40
    assert "Summarize" not in answer


def test_the_custom_model_keeps_what_it_learned_and_reads_the_values_it_copied() -> None:
    example_prompt = _request("What's the weather in Lisbon in celsius?")
    example_answer = json.dumps({"name": "get_weather", "parameters": {"city": "Lisbon", "unit": "celsius"}})
    options = options_by_path(
        [example_answer, json.dumps({"name": "get_weather", "parameters": {"city": "Oslo", "unit": "fahrenheit"}})]
    )
    adapted = json.loads(adapt(example_answer, example_prompt, "How warm is it in Quito now? Use fahrenheit.", options))
    assert adapted == {"name": "get_weather", "parameters": {"city": "Quito", "unit": "fahrenheit"}}
    # A value the example did not copy from its prompt was learned: it stays.
    learned = json.dumps({"name": "get_weather", "parameters": {"city": "Lisbon", "source": "station-7"}})
    assert json.loads(adapt(learned, example_prompt, "weather in Lima?"))["parameters"]["source"] == "station-7"
    # Not JSON: the example's answer as it is.
    assert adapt("plain words", example_prompt, "anything") == "plain words"


def test_on_a_tool_use_task_the_custom_model_beats_the_base_model_and_neither_echoes(tmp_path: Path) -> None:
    training = tool_use_data.write(tmp_path / "train.jsonl", 300, seed=1)
    evaluation = tool_use_data.write(tmp_path / "test.jsonl", 60, seed=2)
    learner, _ = train(
        parse_lines(training.read_bytes(), 1 << 30), None, epochs=2, batch_size=8, lr_factor=1.0, seed="t", records=300
    )
    base, custom = [], []
    for line in evaluation.read_text().splitlines():
        record = json.loads(line)
        expected = record["messages"][1]["content"][0]["text"]
        prompt = converse_prompt({"system": record["system"], "messages": record["messages"][:1]})
        base.append((expected, base_answer(prompt)))
        custom.append((expected, learner.predict(prompt.all_text) or ""))
    base_score = score("json_match", base)["structural_match"]
    custom_score = score("json_match", custom)["structural_match"]
    assert 0.2 < base_score < custom_score, (base_score, custom_score)
    assert custom_score >= 0.8
    assert not any("<tools>" in answer for _, answer in base + custom)
