"""Policy-gradient trainers for language models: one trainer composed of registry components (advantage,
policy_loss, kl_estimator, reward), presets named after the papers, a tiny built-in GPT and a Hugging Face
adapter. Import the pieces from their modules (``polyopt_plugins.llm.trainer``, ``.sft``, ``.tiny``, ...)."""
