"""Real-world chain-of-thought instructions used to build CoT positives (bench only).

``TUNE`` phrasings are the ones the lexicon in ``detector/text/cot.py`` was written and
tuned against (the brief's list plus the most common public prompts).

``DEV`` was written down before the lexicon as a held-out set; its first measurement
(recall 0.637 on constructed prompts) is the honest first-contact number. Its misses were
then used to improve the lexicon, so it is no longer held out.

``HELD_OUT`` was written after that first measurement and before the lexicon was
changed; its first measurement was recall 0.274 (it was written by the lexicon's author,
knowing its vocabulary, so it leans adversarial). Its misses were then also seen while
revising the lexicon, so its later recall is not a clean held-out number either.

``FRESH`` was written after the revision and measured once, with no change to the
lexicon afterwards: its recall is the generalisation number reported in
``docs/text_signals.md``.
"""

from __future__ import annotations

TUNE: tuple[str, ...] = (
    "Let's think step by step.",
    "Think step by step.",
    "Solve this step by step.",
    "Show your work.",
    "Explain your reasoning.",
    "Think carefully before answering.",
    "Walk me through your reasoning.",
    "Justify each step.",
    "Provide a detailed explanation of your reasoning.",
    "Use chain-of-thought reasoning.",
    "Reason through the problem before giving the final answer.",
    "First, identify the key facts. Then, reason about them. Finally, give the answer.",
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "Answer the question and explain your reasoning step by step.",
    "Think it through and show all your steps.",
    "Write your reasoning inside <think></think> tags, then give the answer.",
    "You are a helpful assistant. Always explain your reasoning step by step before giving "
    "a final answer.",
    "You are an AI assistant. User will you give you a task. Your goal is to complete the "
    "task as faithfully as you can. While performing the task think step-by-step and "
    "justify your steps.",
)

DEV: tuple[str, ...] = (
    # OPRO (Yang et al. 2023)
    "Take a deep breath and work on this problem step-by-step.",
    # APE (Zhou et al. 2022)
    "Let's work this out in a step by step way to be sure we have the right answer.",
    # Plan-and-Solve (Wang et al. 2023)
    "Let's first understand the problem and devise a plan to solve the problem. Then, let's "
    "carry out the plan and solve the problem step by step.",
    "Before you answer, write out your thought process in <scratchpad> tags.",
    # FLAN CoT templates
    "Give the rationale and then the final answer.",
    "Give a stream of consciousness and then the final answer.",
    "Let's be accurate as possible and think first.",
    "Use reasoning to lead to the answer of the following question:",
    # Tree-of-thoughts single prompt (Hulbert 2023)
    "Imagine three different experts are answering this question. All experts will write "
    "down 1 step of their thinking, then share it with the group. Then all experts will go "
    "on to the next step, etc.",
    # OpenAI prompt engineering guide
    "Work out your own solution to the problem before rushing to a conclusion.",
    "Describe your reasoning in detail, then state the answer.",
    "Let's think about this logically.",
    "Break the problem into smaller parts and solve each one before combining them.",
    "Show all intermediate calculations.",
    "Provide your answer along with a thorough explanation of each step in the derivation.",
    "Reflect on the problem carefully, considering each possibility, before deciding.",
    "Outline your logic before giving a conclusion.",
    # Orca system prompts (Mukherjee et al. 2023)
    "You are a teacher. Given a task, you explain in simple steps what the task is asking, "
    "any guidelines it provides and how to use those guidelines to find the answer.",
    "You are an AI assistant that helps people find information. User will you give you a "
    "question. Your task is to answer as faithfully as you can. While answering think "
    "step-by-step and justify your answer.",
    "Please explain your thinking process in detail before providing the final answer.",
    "Present the full derivation, then the final result on its own line.",
    "Piensa paso a paso antes de responder.",
    "Réfléchis étape par étape avant de répondre.",
    "请一步一步地思考，然后给出答案。",
    "Denke Schritt für Schritt nach, bevor du antwortest.",
    "Let's solve this problem by splitting it into steps.",
    "Think aloud as you solve this.",
    "Let's go through this slowly, checking each calculation as we go.",
    "Explain every step of your solution so a student could follow it.",
    "Reason it out carefully and give me your best answer.",
)

HELD_OUT: tuple[str, ...] = (
    "Let's reason about this carefully, one step at a time.",
    "Go through the problem one step at a time and state the answer at the end.",
    "Please lay out your thought process, then provide the answer.",
    "Before responding, analyze the question thoroughly and consider alternative interpretations.",
    "Show how you got your answer.",
    "Elaborate on how you reached this conclusion.",
    "Write down every step of the calculation.",
    "Solve it and explain each step along the way.",
    "Think this through methodically before you commit to an answer.",
    "Provide a rigorous, step-wise derivation.",
    "Let's approach this systematically.",
    "Explain the logic behind your answer in detail.",
    "Work through the problem carefully and show intermediate results.",
    "Respond with a detailed, step-by-step solution and a final answer.",
    "Your response should include the reasoning that leads to the answer.",
    "Explain like a tutor would, going over each step.",
    "Deliberate carefully, then answer.",
    "Use careful logical deduction to arrive at the answer, explaining as you go.",
    "Start by restating the problem, then solve it one piece at a time, and finally "
    "summarize the answer.",
    "Include your full working.",
    "Take your time, think it over, and show your reasoning.",
    "Demonstrate each step you take to reach the result.",
    "Résous ce problème en expliquant ton raisonnement.",
    "Erkläre deinen Lösungsweg ausführlich.",
    "请详细解释你的推理过程。",
    "Before giving the answer, list the relevant facts and reason from them.",
    "Explain why each wrong option is wrong and why the right one is right.",
    "You are a meticulous math tutor who always shows every step of the solution.",
    "Answer after reasoning it through, and keep the reasoning visible.",
    "Think out loud and explain your approach.",
)

FRESH: tuple[str, ...] = (
    "Reason carefully and show each step of your work before stating the final answer.",
    "Please solve the following problem, showing all of your working.",
    "Think through the question thoroughly, then give your answer.",
    "Explain step by step how you would solve this.",
    "Provide a chain of reasoning leading to your answer.",
    "Break down your reasoning into numbered steps.",
    "Let's work through this together, one step at a time.",
    "Answer the question, and make sure to justify your reasoning.",
    "Describe your approach in detail before giving the solution.",
    "First analyze the problem, then outline a solution plan, and finally compute the result.",
    "Why? Explain thoroughly.",
    "Talk me through how you'd figure this out.",
    "Give a detailed rationale for your answer.",
    "Lay out the argument step by step.",
    "Think about it slowly and carefully, and write down your thoughts.",
    "Provide the solution with full explanations for each step.",
    "Analyze each option and explain why it is or is not correct.",
    "Before answering, reason about what the question is really asking.",
    "Please include your intermediate reasoning in the response.",
    "Use step-by-step logic to reach the answer.",
    "Detail every calculation you perform.",
    "Write a thorough solution, explaining each step.",
    "Consider the problem from first principles and explain your thinking.",
    "Show your full reasoning, then put the answer in the last line.",
    "You are a careful reasoner. Always think before you answer and explain your logic.",
    "Solve it like a math teacher would on the board, step after step.",
    "Go step by step and double-check each calculation.",
    "Respond with your reasoning first, followed by the answer.",
    "Explain the thought process behind the solution.",
    "Work it through logically and explain how you reach the conclusion.",
)

# Eval-harness / batch instructions asking for a short answer only: not CoT.
SHORT_ANSWER: tuple[str, ...] = (
    "Answer with only the letter of the correct option.",
    "Respond with only the number.",
    "Answer in one word.",
    "Reply with a single letter (A, B, C or D).",
    "Output only the final answer, without any explanation.",
    "Answer yes or no.",
    "Just give me the answer, no explanation needed.",
    "Return only the label.",
)
