-- Team channels: one conversation per team.
CREATE UNIQUE INDEX conversations_team_unique ON conversations (team_id) WHERE kind = 'team';
