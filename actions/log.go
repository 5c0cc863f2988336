package actions

import (
	"context"
	"log/slog"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// logKind: step "log" "NAME" { message = "…", level = "info" } writes a line to the
// server log and records it in the run's history.
func logKind(o Options) workflows.StepKind {
	return workflows.StepKind{
		Name:   "log",
		Output: []string{"message", "level"},
		Attrs:  []workflows.Attr{{Name: "message", Required: true}, {Name: "level"}},
		New: func(b *workflows.Block) (workflows.Action, hcl.Diagnostics) {
			level, diags := b.OneOf("level", "info", "debug", "info", "warn", "error")
			return &Log{log: o.Logger, message: b.Template("message"), levelName: level, level: logLevels[level]}, diags
		},
	}
}

// Log is a compiled log step.
type Log struct {
	log       *slog.Logger
	message   *workflows.Template
	levelName string
	level     slog.Level
}

// Do logs the message, with the workflow's secrets hidden.
func (l *Log) Do(ctx context.Context, c *workflows.Call) (any, error) {
	out, err := l.do(ctx, c)
	return out, workflows.Permanent(err) // its values render the same way on another attempt
}

func (l *Log) do(ctx context.Context, c *workflows.Call) (any, error) {
	msg, err := l.message.RenderString(c.Env)
	if err != nil {
		return nil, err
	}
	msg = c.Secrets.String(msg)
	l.log.Log(ctx, l.level, msg, "workflow", c.Workflow, "run", c.RunID, "step", c.Step)
	return map[string]any{"message": msg, "level": l.levelName}, nil
}

var _ workflows.Action = (*Log)(nil)
