// bertlite/bertlite.h - the whole public API: tokenizer, encoder, sentence features and
// classifiers (link bertlite::bertlite). Fine-tuning is bertlite/trainer.h (bertlite::train).
#pragma once

#include "bertlite/classifier.h"
#include "bertlite/encoder.h"
#include "bertlite/error.h"
#include "bertlite/features.h"
#include "bertlite/tokenizer.h"
