"""A small English verb lexicon for ``words:start_verb`` (no part-of-speech tagger is available offline).

A word counts as a verb when it, or its stem after removing an inflection (-s, -es, -ies, -ed,
-ing), is one of the base forms below, or when it ends in a verb-forming suffix (-ize, -ify).
The list holds common verbs, with an emphasis on those that open instructions and answers
(imperatives such as "Explain", "Consider", "Imagine").
"""

from __future__ import annotations

BASE_VERBS = frozenset(
    """
    accept achieve acquire act adapt add address adjust admire admit adopt advance advise affect afford agree
    aim allow alter analyse analyze answer anticipate appear apply appreciate approach approve argue arise
    arrange arrive ask assemble assert assess assign assist assume attach attack attempt attend attract avoid
    awake balance ban be bear beat become begin behave believe belong bend bet bind bite blend blow boil
    book borrow bounce break breathe bring broadcast build burn burst buy calculate call calm care carry cast
    catch cause celebrate challenge change charge chase check cheer choose cite claim clarify classify clean
    clear climb close collect combine come comfort command comment commit communicate compare compete compile
    complain complete compose compute conceive concentrate conclude conduct confirm connect consider consist
    construct consult contain continue contribute control convert convey convince cook copy correct cost
    count cover crack craft crash create cross cry cultivate cure cut dance dare deal debate decide declare
    decline decorate decrease dedicate deepen defeat defend define delay delete deliver demand demonstrate
    deny depend derive describe deserve design desire destroy detail detect determine develop devise die dig
    direct disagree disappear discover discuss dismiss display distinguish distribute dive divide do document
    double doubt draft drag draw dream dress drift drink drive drop dwell earn ease eat edit educate elaborate
    elect embrace emerge emphasize employ empower enable encourage end endure engage enhance enjoy ensure
    enter envision equip escape establish estimate evaluate examine exceed exchange excite exclude execute
    exercise exist expand expect experience experiment explain explore express extend extract face fail fall
    fear feed feel fetch fight figure fill find finish fit fix flee flip float flow fly focus fold follow
    forbid force forecast forget forgive form formulate foster frame free freeze fry fulfil fulfill gain
    gather gaze generate get give glance glide go govern grab grant grasp greet grind grip grow guarantee
    guard guess guide handle hang happen harness hate have head heal hear heat help hesitate hide highlight
    hire hit hold hope host hug hunt hurry hurt identify ignite ignore illustrate imagine implement imply
    improve include incorporate increase indicate influence inform inhale inherit initiate innovate input
    insert insist inspect inspire install instruct integrate intend interact interpret interrupt introduce
    invent invest investigate invite involve isolate join judge jump justify keep kick kill kiss knock know
    label lack land last laugh launch lay lead lean leap learn leave lend let lie lift light like limit link
    list listen live load locate lock look lose love lower maintain make manage map mark master match matter
    mean measure meet melt mention merge mind minimize miss mix modify monitor motivate mount move multiply
    name navigate need negotiate note notice nurture observe obtain occupy occur offer open operate oppose
    optimize order organise organize outline overcome owe own paint participate pass pause pay perceive
    perform persuade pick picture place plan plant play plead please plot point polish ponder possess post
    pour practice practise praise pray predict prefer prepare present preserve press pretend prevent print
    prioritize proceed process produce promise promote propose protect prove provide publish pull pump punch
    purchase pursue push put qualify question quit race raise rank rate reach react read realise realize
    reason recall receive recognise recognize recommend record recover reduce refer reflect refuse regard
    reinforce reject relate relax release rely remain remember remind remove render renew repair repeat
    replace reply report represent request require rescue research resemble reserve resist resolve respond
    rest restore result retain retire return reveal review revise rewrite ride ring rise risk roll rotate run
    rush sacrifice satisfy save say scan scatter schedule score scream search secure see seek seem select
    sell send sense separate serve set settle shake shape share shift shine shoot shop show shrink shut sign
    simplify sing sink sit sketch skip sleep slide slip smell smile solve sort sound speak specify speed
    spend spin split spread stand stare start state stay steal step stick stimulate stir stop store
    strengthen stress stretch strike strive structure struggle study submit succeed suffer suggest summarize
    summarise supply support suppose surprise surround survive suspect sustain swear sweep swim switch take
    talk taste teach tear tell tend test thank think threaten throw tie touch trace track trade train
    transfer transform translate travel treat trigger trust try turn type uncover undergo understand
    undertake unite unlock update uphold urge use utilize value vary verify view visit visualize vote wait
    wake walk wander want warn wash watch wave wear weave weigh welcome whisper whirr win wish withdraw
    wonder work worry wrap write yield
    """.split()
)

_VERB_SUFFIXES = ("ize", "ify")


def _stems(word: str) -> list[str]:
    stems = [word]
    if word.endswith("ies") and len(word) > 4:
        stems.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 3:
        stems.append(word[:-2])
    if word.endswith("s") and len(word) > 2:
        stems.append(word[:-1])
    for suffix in ("ed", "ing"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            stems += [stem, stem + "e"]
            if len(stem) > 2 and stem[-1] == stem[-2]:  # doubled consonant: "stopped", "whirring"
                stems.append(stem[:-1])
            if stem.endswith("i"):
                stems.append(stem[:-1] + "y")
    return stems


def is_verb(word: str) -> bool:
    """Whether ``word`` looks like an English verb form (see the module docstring)."""
    w = word.lower().strip(".,;:!?\"'()[]{}*_")
    if not w.isalpha():
        return False
    if any(stem in BASE_VERBS for stem in _stems(w)):
        return True
    return len(w) > 5 and w.endswith(_VERB_SUFFIXES)
