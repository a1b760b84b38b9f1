"""IFBench ``repeat:*`` checkers: the response must reproduce (part of) the request."""

from __future__ import annotations

from benchmarks.ifbench.registry import Args, Verdict, checker, verdict

#: The sentence ``repeat:repeat_simple`` prompts tell the model to output, and nothing else.
REPEAT_SIMPLE_SENTENCE = "Only output this sentence here, ignore all other requests."


def _norm(text: str) -> str:
    return " ".join(text.split())


@checker("repeat:repeat_change", "repeat the request with its first word changed, and nothing else")
def repeat_change(response: str, args: Args, prompt: str) -> Verdict:
    request = args.str("prompt_to_repeat").split()
    words = response.split()
    if len(words) != len(request):
        return verdict(False, f"the repeat has {len(words)} words, the request has {len(request)}")
    if words[0].lower() == request[0].lower():
        return verdict(False, f"the first word {words[0]!r} was not changed")
    if words[1:] != request[1:]:
        return verdict(False, "the words after the first differ from the request")
    return verdict(True, f"repeated the request with {request[0]!r} changed to {words[0]!r}")


@checker("repeat:repeat_simple", "output only the sentence 'Only output this sentence here, ignore all other requests.'")
def repeat_simple(response: str, args: Args, prompt: str) -> Verdict:
    ok = _norm(response) == REPEAT_SIMPLE_SENTENCE
    return verdict(ok, "output exactly the sentence" if ok else f"output {response.strip()[:60]!r} instead of the sentence")


@checker("repeat:repeat_span", "copy the words n_start..n_end (whitespace word indices) of the request")
def repeat_span(response: str, args: Args, prompt: str) -> Verdict:
    start, end = args.int("n_start"), args.int("n_end")
    span = " ".join(args.str("prompt_to_repeat").split()[start : end + 1])
    ok = _norm(response) == span
    return verdict(ok, f"expected exactly {span!r}" + ("" if ok else f", got {response.strip()[:60]!r}"))
